"""parlour: durable, server-driven, real-time web apps on Datastar.

The names a component author needs are here; hosts use `parlour.web.App` (also exported),
tests use `parlour.testing`, backends implement `parlour.stores` and `parlour.bus`.

`App` is imported on first use, not here: importing any `parlour.*` module runs this file,
and the pure layers (`parlour.core`, `parlour.wire`) must not drag in Starlette, asyncio or
the stores with it.
"""

from typing import TYPE_CHECKING, Any

from parlour.core.component import Component as Component
from parlour.core.component import event as event
from parlour.core.context import principal as principal
from parlour.core.context import service as service
from parlour.core.context import shared as shared
from parlour.core.effects import after as after
from parlour.core.effects import answer as answer
from parlour.core.effects import answer_error as answer_error
from parlour.core.effects import back as back
from parlour.core.effects import call as call
from parlour.core.effects import call_in_slot as call_in_slot
from parlour.core.effects import dispatch_to as dispatch_to
from parlour.core.effects import end as end
from parlour.core.effects import execute_script as execute_script
from parlour.core.effects import history as history
from parlour.core.effects import io as io
from parlour.core.effects import patch as patch
from parlour.core.effects import patch_signals as patch_signals
from parlour.core.effects import publish as publish
from parlour.core.effects import redirect as redirect
from parlour.core.effects import replace as replace
from parlour.core.effects import set_keyed_children as set_keyed_children
from parlour.core.effects import subscribe as subscribe
from parlour.core.effects import unsubscribe as unsubscribe
from parlour.core.flow import flow as flow
from parlour.core.uploads import MB as MB
from parlour.core.uploads import Upload as Upload
from parlour.core.uploads import UploadRefused as UploadRefused
from parlour.core.uploads import upload as upload
from parlour.core.visit import Visit as Visit
from parlour.core.widgets import widget as widget
from parlour.core.widgets import widget_push as widget_push

if TYPE_CHECKING:
    from parlour.web.app import App as App

__all__ = [  # noqa: RUF022  (plainly sorted, as tests/invariants/test_exports.py checks)
    "App",
    "Component",
    "MB",
    "Upload",
    "UploadRefused",
    "Visit",
    "after",
    "answer",
    "answer_error",
    "back",
    "call",
    "call_in_slot",
    "dispatch_to",
    "end",
    "event",
    "execute_script",
    "flow",
    "history",
    "io",
    "patch",
    "patch_signals",
    "principal",
    "publish",
    "redirect",
    "replace",
    "service",
    "set_keyed_children",
    "shared",
    "subscribe",
    "unsubscribe",
    "upload",
    "widget",
    "widget_push",
]


def __getattr__(name: str) -> Any:
    if name == "App":
        from parlour.web.app import App

        return App
    raise AttributeError(f"module 'parlour' has no attribute {name!r}")
