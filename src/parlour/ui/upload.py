"""`file_input(self.handler)`: the file input of an `@upload` handler, with its progress list.

    def render(self):
        return div(self.root)[file_input(self.received, label="Choose files")]

renders

    <div class="parlour-upload" id="IID--upload-NAME">
      <label class="parlour-label">Choose files
        <input type="file" multiple accept="image/*,.pdf"
               data-parlour-upload="BASE/upload/CID/IID/NAME" …></label>
      <ul class="parlour-upload-progress" id="IID--upload-NAME-progress" data-ignore-morph …></ul>
      <script type="module" src="BASE/static/parlour-upload.js"></script>
    </div>

The script (`parlour/web/static/parlour-upload.js`, loaded once per page however many inputs
there are) sends the chosen files as one multipart POST with upload progress, draws a bar per
file and a Cancel button in the list, and empties it when the upload is done: the handler's
render shows the result. Datastar's `@post` cannot report upload progress, hence a script of
its own; it is a static file, so the page's Content-Security-Policy needs nothing inline.
The list is `data-ignore-morph`: re-renders of the component during an upload leave the bars
alone. `data-parlour-upload-errors` says whether the component shows refusals itself
(`component`: it has `on_error_<handler>`) or the script should show the server's answer
(`page`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import htpy
from htpy import Element, div, input, script, ul

from parlour.core.component import Component
from parlour.core.errors import ComponentDefinitionError
from parlour.core.handlers import error_method_name
from parlour.core.routes import static_path, upload_path
from parlour.core.uploads import accepting

__all__ = ["UPLOAD_SCRIPT", "file_input"]

UPLOAD_SCRIPT = "parlour-upload.js"
"""The static file the input needs (served at BASE/static/parlour-upload.js)."""


def file_input(
    handler: Callable[..., Any], *, label: str = "Choose files", **attrs: Any
) -> Element:
    """The file input whose chosen files go to `handler`, an `@upload` method of a component
    (`self.received`, or another mounted instance's). `attrs` go on the `<input>`."""
    owner = getattr(handler, "__self__", None)
    name = getattr(handler, "__name__", None)
    if not isinstance(owner, Component) or not isinstance(name, str):
        raise TypeError(
            f"file_input() needs a bound @upload method of a component, such as "
            f"file_input(self.received), got {handler!r}"
        )
    cls = type(owner)
    found = accepting(cls, name)
    if found is None:
        raise ComponentDefinitionError(
            f"{cls.__qualname__}.{name} is not an @upload handler; mark it with "
            "@upload(max_size=..., max_files=..., types=[...]) to receive files"
        )
    accept = found.accept
    mount = owner.mounted
    box = f"{mount.iid}--upload-{name}"
    shows_errors = callable(getattr(cls, error_method_name(name), None))
    field: dict[str, Any] = {
        "type": "file",
        "name": "files",
        "data-parlour-upload": upload_path(mount.base, mount.cid, mount.iid, name),
        "data-parlour-upload-errors": "component" if shows_errors else "page",
        "data-parlour-progress": f"{box}-progress",
        **attrs,
    }
    if accept.max_files > 1:
        field["multiple"] = True
    if accept.types:
        field["accept"] = accept.accept_attribute
    return div(".parlour-upload", id=box)[
        htpy.label(".parlour-label")[label, " ", input(".parlour-input", field)],
        ul(
            ".parlour-upload-progress",
            {"data-ignore-morph": True, "aria-live": "polite"},
            id=f"{box}-progress",
        ),
        script(type="module", src=static_path(mount.base, UPLOAD_SCRIPT)),
    ]
