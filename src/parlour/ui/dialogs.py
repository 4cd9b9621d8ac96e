"""The stock dialogs: prompt, confirm, choose, info. See `parlour.ui`."""

from __future__ import annotations

from typing import Any, ClassVar

from htpy import Node, button, div, form, input, label, p, section

from parlour.core.component import Component, event
from parlour.core.effects import Answer, answer

__all__ = ["Choose", "Confirm", "Info", "Prompt", "choose", "confirm", "info", "prompt"]


def _actions(comp: Component, *buttons: Node) -> Node:
    return div(".parlour-actions")[comp.back_button(), *buttons]


class Prompt(Component, name="parlour.ui.Prompt"):
    """A labelled text input; answers the text. Enter submits."""

    label: str = "Please enter a value:"
    value: str = ""

    keep: ClassVar[tuple[str, ...]] = ("value",)

    def render(self) -> Node:
        field_id = f"{self.iid}-input"
        return form(
            {**self.root, **self.on("submit", "submit")}, class_="parlour-card parlour-dialog"
        )[
            label(".parlour-label", for_=field_id)[self.label],
            input(
                ".parlour-input",
                self.bind_local("value"),
                id=field_id,
                name="value",
                type="text",
                value=self.value,
                autofocus=True,
                autocomplete="off",
            ),
            _actions(self, button(".parlour-button.parlour-button--primary", type="submit")["OK"]),
        ]

    @event
    def submit(self) -> Answer:
        return answer(self.value)


class Confirm(Component, name="parlour.ui.Confirm"):
    """A question with Yes and No; answers True or False."""

    question: str = "Are you sure?"

    def render(self) -> Node:
        return section(self.root, class_="parlour-card parlour-dialog")[
            p(".parlour-message")[self.question],
            _actions(
                self,
                button(".parlour-button", self.on("click", "no"), type="button")["No"],
                button(
                    ".parlour-button.parlour-button--primary",
                    self.on("click", "yes"),
                    type="button",
                )["Yes"],
            ),
        ]

    @event
    def yes(self) -> Answer:
        return answer(True)

    @event
    def no(self) -> Answer:
        return answer(False)


class Choose(Component, name="parlour.ui.Choose"):
    """One button per option; answers the option picked."""

    label: str = "Pick one:"
    options: list[Any] = []

    def render(self) -> Node:
        return section(self.root, class_="parlour-card parlour-dialog")[
            p(".parlour-message")[self.label],
            div(".parlour-choices")[
                (
                    button(
                        ".parlour-button.parlour-button--block",
                        self.on("click", "pick", payload=i),
                        type="button",
                    )[str(option)]
                    for i, option in enumerate(self.options)
                )
            ],
            _actions(self),
        ]

    @event
    def pick(self, index: Any) -> Answer | None:
        if isinstance(index, int) and 0 <= index < len(self.options):
            return answer(self.options[index])
        return None  # a stale or forged index: ignore it, the dialog stays


class Info(Component, name="parlour.ui.Info"):
    """A message and OK; answers None."""

    message: str = ""

    def render(self) -> Node:
        return section(self.root, class_="parlour-card parlour-dialog")[
            p(".parlour-message")[self.message],
            _actions(
                self,
                button(
                    ".parlour-button.parlour-button--primary", self.on("click", "ok"), type="button"
                )["OK"],
            ),
        ]

    @event
    def ok(self) -> Answer:
        return answer(None)


def prompt(label: str, default: str = "") -> Prompt:
    """A text input labelled `label`, pre-filled with `default`; answers the text."""
    return Prompt(label=label, value=default)


def confirm(question: str) -> Confirm:
    """Yes / No for `question`; answers True or False."""
    return Confirm(question=question)


def choose(label: str, options: list[Any]) -> Choose:
    """One button per option under `label`; answers the option."""
    return Choose(label=label, options=list(options))


def info(message: str) -> Info:
    """`message` and an OK button; answers None."""
    return Info(message=message)
