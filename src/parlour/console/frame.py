"""The frame every console page shares: the header, the nav, what is waiting, the messages.

    class StatusPage(ConsolePage, name="..."):
        href: ClassVar[str] = "/status"
        def body(self) -> Node: ...

The header carries, on every page: the nav (a registry, `NAV`: each page registers its href,
label, icon and order; sorted by order, the current page marked, R26; the Agents entry
shows the waiting count too), how many questions
wait for an answer (the shared view `waiting`: a link to them, and, through the
`console-waiting` behaviour of static/console.js, the count in the tab's title, `(3) parlour
console`, and an optional browser notification when a new question arrives), the stream's
state, and how the console is protected (`parlour.console.access`): a "Not protected" mark
when nobody is asked to sign in, else who is signed in and a Sign out button.

Below it, one message at a time: a notice (`say`: what a click did) or an error (`fail`:
what was wrong, styled as an error, `role=alert`). An error about a field the page shows
(`FIELDS`, e.g. the launcher's `target`) is drawn next to that field, which is marked
`aria-invalid`; any other message at the top of the page.

An answer sent from a page is recorded with who sent it (`answered_by`): the principal the
framework authenticated for the request (`principal()`, from the console's `authenticate`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from htpy import Element, Node, a, button, div, form, h1, header, nav, p, span

from parlour import Component, event, principal, service, shared
from parlour.console import cards
from parlour.console.access import ANONYMOUS, Access
from parlour.console.signin import PAGES_BASE, SIGNOUT_PATH

__all__ = ["NAV", "ConsolePage", "NavItem", "field_of", "register_page"]


@dataclass(frozen=True, slots=True)
class NavItem:
    """One entry of the nav: where it goes, what it says, its icon and colour, its place."""

    href: str
    label: str
    icon: str
    order: int
    colour: str = "#3b5bdb"


NAV: list[NavItem] = []


def register_page(item: NavItem) -> None:
    """Add a page to the nav (idempotent by href)."""
    NAV[:] = sorted([n for n in NAV if n.href != item.href] + [item], key=lambda n: n.order)


def field_of(message: str, fields: frozenset[str]) -> str:
    """The field an error is about when it says so the console's way (`target: expected
    ...`) and the page shows that field; "" otherwise."""
    name, colon, _ = message.partition(":")
    return name if colon and name in fields else ""


# Every page's header shows the stream's state: Connecting until the first event arrives,
# Connected while events come, Disconnected while Datastar retries (R4). Datastar reports the
# stream's life as `datastar-fetch` events whose element is the body (the shell's `data-init`).
_CONNECTION_JS = (
    "evt.detail.el === document.body && ($_conn = "
    "['error', 'retrying', 'retries-failed', 'finished'].includes(evt.detail.type) "
    "? 'Disconnected' : 'Connected')"
)

NoticeKind = Literal["info", "error"]


class ConsolePage(Component, name="parlour.console.Page"):
    """The frame every console page shares: title, nav, waiting count, connection, messages."""

    href: ClassVar[str] = "/"
    FIELDS: ClassVar[frozenset[str]] = frozenset()
    """The fields this page draws its own errors next to (see `fail`)."""
    notice: str = ""
    notice_kind: NoticeKind = "info"
    notice_field: str = ""

    # -- messages ---------------------------------------------------------------------------

    def say(self, message: str) -> None:
        """Show `message` as a notice: what the person's click did."""
        self.notice, self.notice_kind, self.notice_field = message, "info", ""

    def fail(self, message: str, field: str | None = None) -> None:
        """Show `message` as an error: next to `field` (by default the field the message
        names, `target: ...`) when this page shows it, else at the top of the page."""
        chosen = field if field is not None and field in self.FIELDS else ""
        self.notice, self.notice_kind = message, "error"
        self.notice_field = chosen or field_of(message, self.FIELDS)

    def hush(self) -> None:
        """No message (before a new click's outcome)."""
        self.notice, self.notice_kind, self.notice_field = "", "info", ""

    def message(self, field: str = "") -> Element | None:
        """The message, where it belongs: `message("target")` next to the target field,
        `message()` at the top (unless a field shows it)."""
        if not self.notice or self.notice_field != field:
            return None
        if self.notice_kind == "error":
            return p(
                ".console-notice.console-notice--error",
                id=f"error-{field}" if field else "error",
                role="alert",
            )[self.notice]
        return div(".console-notice", role="status")[self.notice]

    def invalid(self, field: str) -> dict[str, str]:
        """The attributes of a field's input: marked invalid, described by its error."""
        if self.notice and self.notice_kind == "error" and self.notice_field == field:
            return {"aria-invalid": "true", "aria-describedby": f"error-{field}"}
        return {}

    # -- the frame ----------------------------------------------------------------------------

    def render(self) -> Element:
        return div(
            self.root,
            {
                "data-signals": json.dumps({"_conn": "Connecting", "_answer": self.answer_url()}),
                "data-on:datastar-fetch": _CONNECTION_JS,
            },
            class_="console",
        )[
            header(".console-header")[
                h1(".console-title")["parlour console"],
                nav(".console-nav")[
                    (
                        a(
                            ".console-nav-item",
                            href=item.href,
                            style=f"--nav-colour: {item.colour}",
                            aria_current="page" if item.href == self.href else None,
                        )[
                            span(".console-nav-icon")[item.icon],
                            item.label,
                            # The waiting count, kept by console.js (the Agents page answers).
                            span(
                                ".console-nav-count",
                                {"data-console-count": True, "data-ignore-morph": True},
                                hidden=True,
                            )
                            if item.href == "/"
                            else None,
                        ]
                        for item in NAV
                    )
                ],
                shared("waiting"),
                button(
                    ".console-notify",
                    {"data-console-notify": True, "data-ignore-morph": True},
                    type="button",
                    aria_pressed="false",
                    title="A browser notification when a question arrives (asks your "
                    "browser's permission the first time)",
                )["Notify me"],
                span(".console-conn", {"data-text": "$_conn", "data-attr:data-conn": "$_conn"})[
                    "Connecting"
                ],
                self.access_mark(),
            ],
            self.message(),
            self.body(),
        ]

    def access_mark(self) -> Element:
        """ "Not protected" when the console asks nobody to sign in; else Sign out."""
        if not service(Access).protected:
            return span(
                ".console-unprotected",
                title="Anyone who can reach this console can answer its questions: "
                "start it with --token, or add users with `parlour console user add`",
            )["Not protected"]
        base = self.mounted.base
        root = base.removesuffix(PAGES_BASE) if base.endswith(PAGES_BASE) else ""
        return form(".console-signout", method="post", action=root + SIGNOUT_PATH)[
            span(".console-person")[f"Signed in as {self.person()}"],
            button(".parlour-button.console-signout-button", type="submit")["Sign out"],
        ]

    def person(self) -> str:
        """Who is using this page, as the answers they send record it: the principal of the
        request at hand (a user's name, "token", "anonymous")."""
        who = principal()
        return who if isinstance(who, str) and who else ANONYMOUS

    def answer_url(self) -> str:
        """Where this page's question cards post their answers (its `answer` event)."""
        mount = self.mounted
        return f"{mount.base}/event/{mount.cid}/{mount.iid}/answer"

    def body(self) -> Node:
        return None

    # Question cards are shared views: their Send posts here (`parlour.console.cards`).
    @event
    def answer(self, payload: Any) -> Any:
        self.hush()
        sent = cards.submit(self, payload)
        if self.notice and self.notice_kind == "info" and sent is None:
            self.notice_kind = "error"  # refused before sending (an empty answer)
        return sent

    def answered(self, question: Any) -> Any:
        return cards.answered_notice(self, question)

    def on_error_answered(self, error: BaseException) -> None:
        cards.refused(self, error)  # says why on the page, or raises what is not a refusal
        self.notice_kind = "error"
