"""The JavaScript parlour writes for the browser: Datastar action expressions and history.

    DATASTAR_ACTIONS              `parlour.core.actions.Actions` in Datastar's language:
        .event(url)                 @post('URL', {requestCancellation: 'disabled'})
        .back(url)                  history.back() when the entry is parlour's, else @post('URL')
    history_script(History(...))  the script that updates the browser's session history

`parlour.wire` plugs `DATASTAR_ACTIONS` into core when it is imported (see
docs/decisions/0006-no-javascript-in-core.md): core decides *what* happens (an event is
posted to this URL, the history gets an entry at depth 3), this module says it in JavaScript.

The URLs pasted between single quotes are parlour's own routes (`parlour.core.routes`):
ids, a method name and a percent-encoded payload, none of which can contain a quote.
Values that may hold anything (a page URL given to `history(...)`) go through `js_literal`.
"""

from __future__ import annotations

from parlour.core.fragments import History
from parlour.wire.js import js_literal

__all__ = ["DATASTAR_ACTIONS", "DatastarActions", "history_script"]


class DatastarActions:
    """`parlour.core.actions.Actions` for the Datastar 1.0 client."""

    def event(self, url: str) -> str:
        # Event POSTs answer 204 at once; Datastar's default cancellation (same method and
        # URL) could abort a second quick click, so it is disabled: every click counts.
        return f"@post('{url}', {{requestCancellation: 'disabled'}})"

    def back(self, url: str) -> str:
        # A screen entered with a history entry of ours (`history.state.parlour`) goes back
        # through the browser, whose popstate then posts the back route with the depth.
        return f"history.state && history.state.parlour ? history.back() : @post('{url}')"


DATASTAR_ACTIONS = DatastarActions()
"""The instance `parlour.wire` plugs into core."""


def history_script(fragment: History) -> str:
    """The JavaScript that applies `fragment` to the browser's session history.

    push: mark the entry being left with the depth it was left at, then push the new one
    (at `url`, or the current URL when None), so going back to an entry restores the
    conversation as it was when the user left that screen, including what they changed on
    it in place (clicks that pushed no entry). replace: change the current entry's URL and
    keep its state (its depth).
    """
    if fragment.mode == "replace":
        if fragment.url is None:
            raise ValueError(
                "History(mode='replace') needs a url, got None; a replace with no URL would "
                "change nothing (pass the URL, or drop the fragment)"
            )
        return f"history.replaceState(history.state,'',{js_literal(fragment.url)})"
    left, state = _entry_state(fragment.depth - 1), _entry_state(fragment.depth)
    target = "" if fragment.url is None else "," + js_literal(fragment.url)
    return f"history.replaceState({left},'');history.pushState({state},''{target})"


def _entry_state(depth: int) -> str:
    """`js_literal({"parlour": True, "depth": depth})`, written directly (a click's script)."""
    if type(depth) is not int:
        return js_literal({"parlour": True, "depth": depth})
    return f'{{"parlour": true, "depth": {depth}}}'
