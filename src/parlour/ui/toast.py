"""The stock toast: a short notice over the page that leaves by itself.

    @event
    def save(self):
        ...
        return toast("Saved.", "success")

`toast(message, kind)` is an effect a handler returns (with others, in a list, as usual). The
notice is appended to the page's overlay (`#parlour-overlay`, beside `#root` in every shell),
so neither the handler's own re-render nor a new screen drawn into `#root` covers or drops it.
The stock behaviour `parlour.toast` (in `parlour-widgets.js`) takes it away after `seconds`,
waits while the pointer or keyboard focus is on it, and its close button dismisses it at once.

Each kind looks different (colour and icon, `.parlour-toast--KIND` in the stock stylesheet);
an error is announced at once (`role="alert"`), the others politely (`role="status"`).

What this module does not do: keep toasts in the conversation. A toast is a moment: a reload
does not show it again.
"""

from __future__ import annotations

import math
from typing import Literal, get_args

from htpy import button, div, span

from parlour.core.effects import Patch, patch
from parlour.core.fragments import OVERLAY_SELECTOR
from parlour.core.widgets import widget_attrs

__all__ = ["ToastKind", "toast"]

type ToastKind = Literal["info", "success", "warning", "error"]

KINDS: tuple[str, ...] = get_args(ToastKind.__value__)
_ICONS = {"info": "i", "success": "\u2713", "warning": "!", "error": "\u2715"}


def toast(message: str, kind: ToastKind = "info", *, seconds: float = 4.0) -> Patch:
    """An effect: show `message` over the page for `seconds` (kind: info, success, warning,
    error). The text is escaped like any text in a render."""
    if kind not in KINDS:
        raise ValueError(f"toast kind must be one of {', '.join(KINDS)}; got {kind!r}")
    if not (isinstance(seconds, (int, float)) and math.isfinite(seconds) and seconds > 0):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise ValueError(f"toast seconds must be a positive number, got {seconds!r}")
    notice = div(
        widget_attrs("parlour.toast", {"ms": round(seconds * 1000)}),
        class_=f"parlour-toast parlour-toast--{kind}",
        role="alert" if kind == "error" else "status",
    )[
        span(".parlour-toast-icon", aria_hidden="true")[_ICONS[kind]],
        span(".parlour-toast-message")[message],
        button(".parlour-toast-close", type="button", aria_label="Dismiss")["\u00d7"],
    ]
    return patch(notice, selector=OVERLAY_SELECTOR, mode="append")
