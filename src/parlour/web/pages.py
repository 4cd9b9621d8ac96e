"""What an app serves: one root component, or a mapping of page paths to roots.

A root is a Component class or a zero-argument factory of instances: every visit gets a fresh
instance. Anything else (an instance, a class that is not a Component, a function that needs
arguments) is refused when the app is built, with what was received and the fix, rather than
becoming a 500 on every request.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import cast

from parlour.core.component import Component

__all__ = ["RootFactory", "check_root", "pages_of"]

type RootFactory = type[Component] | Callable[[], Component]


def check_root(root: object, where: str) -> None:
    """Refuse, when the app is built, a root that would fail on every request."""
    if isinstance(root, type):
        if issubclass(root, Component):
            return
        raise TypeError(
            f"{where} must be a Component class or a zero-argument factory, got the class "
            f"{root.__qualname__}, which is not a Component; subclass parlour.Component"
        )
    if isinstance(root, Component):
        name = type(root).__qualname__
        raise TypeError(
            f"{where} got an instance of {name}: pass the class, not an instance "
            f"(App({name}), or App(lambda: {name}(...)) to set its state); every visit "
            "needs a fresh instance"
        )
    if not callable(root):
        raise TypeError(
            f"{where} must be a Component class or a zero-argument factory, got {root!r} "
            f"(a {type(root).__qualname__})"
        )
    try:
        inspect.signature(root).bind()
    except TypeError:
        raise TypeError(
            f"{where} must be a Component class or a zero-argument factory, got {root!r}, "
            "which cannot be called without arguments"
        ) from None
    except ValueError:
        pass  # no signature to inspect (a builtin): it is checked when called


def pages_of(root: object) -> dict[str, RootFactory]:
    """`{path: root}` for `App(root)`: a single root is the page at `/`."""
    if not isinstance(root, Mapping):
        check_root(root, "App(root)")
        return {"/": cast(RootFactory, root)}
    pages = dict(cast(Mapping[object, object], root))
    bad = [path for path in pages if not (isinstance(path, str) and path.startswith("/"))]
    if bad or not pages:
        raise ValueError(
            f"App pages must map paths starting with '/' to components, got {bad or '{}'}; "
            "e.g. App({'/': Home, '/status': Status})"
        )
    for path, page in pages.items():
        check_root(page, f"App page {path!r}")
    return cast(dict[str, RootFactory], pages)
