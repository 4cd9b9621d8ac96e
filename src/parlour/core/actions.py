"""Actions: the browser-side expressions that component attributes carry, plugged in from above.

    Actions            the Protocol: `event(url)` and `back(url)` -> an expression to run
    plug(actions)      install the implementation (`parlour.wire` does it when imported)
    plugged()          the installed implementation, or a clear error naming the fix

`Component.on` and `Component.back_action` put an expression into a `data-on:*` attribute,
and that expression is Datastar's language, not parlour's. parlour.core writes no JavaScript
and never imports the layers above it, so it states here what it needs (dependency
inversion) and `parlour.wire`, the one Datastar-aware layer, provides it. Anything that
serves or tests pages (`parlour.web`, `parlour.runtime`, `parlour.testing`) imports
`parlour.wire`, so the implementation is in place before the first render.

`parlour/__init__.py` does not import `parlour.wire` to plug it: `import parlour` and every
`parlour.core` module stay free of the layers above (tests/invariants/test_layering.py).
See docs/decisions/0006-no-javascript-in-core.md.

What this module does not do: build URLs (see `routes`), or know any Datastar syntax.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["Actions", "plug", "plugged"]


class Actions(Protocol):
    """The browser expressions a rendered component needs; implemented by `parlour.wire`."""

    def event(self, url: str) -> str:
        """An expression that POSTs one browser event to `url` (every firing counts)."""
        ...

    def back(self, url: str) -> str:
        """An expression that steps the conversation back one screen; `url` is its back route.

        When the screen has a browser history entry of parlour's, stepping back goes through
        the browser, so the browser's Back button and this one stay in step.
        """
        ...


_plugged: Actions | None = None


def plug(actions: Actions) -> None:
    """Install the implementation of `Actions` every later render uses (the last one wins)."""
    global _plugged
    _plugged = actions


def plugged() -> Actions:
    """The installed `Actions`, or a RuntimeError saying how to install one."""
    if _plugged is None:
        raise RuntimeError(
            "a component rendered a browser action (on(), back_action(), back_button()), but "
            "no implementation of parlour.core.actions.Actions is plugged in, so parlour "
            "cannot write the Datastar expression. `import parlour.wire` before rendering "
            "(parlour.web, parlour.runtime and parlour.testing import it for you), or call "
            "parlour.core.actions.plug() with your own implementation."
        )
    return _plugged
