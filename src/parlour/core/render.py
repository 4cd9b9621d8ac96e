"""Rendering: from a mounted instance to the HTML and fragments that put it on the page.

    mount(fold, comp, iid)          tell an instance where it lives before user code runs
    Host                            what a component may ask the kernel while it renders
    to_html(node)                   htpy node -> HTML (a fast path for plain element trees)
    render_html(fold, iid)          an instance's HTML, checked to carry its id at the top
    render(fold, iid, first=)       ... as a fragment: into #root, or morphed by id
    render_container(fold, iid, s)  a keyed list, whole
    error_html / error_block / error_in_page   the `role="alert"` block that replaces an
                                    instance whose handler or render raised
    root_id(html)                   the id of the outermost element of some HTML

An instance's outermost element carries its iid (`self.root`), which is how later patches find
it; `render_html` refuses HTML that does not, at the point where the mistake can be named.

What this module does not do: decide when to render (see `kernel`), or encode fragments.
"""

from __future__ import annotations

import html as htmllib
import re
from typing import Any

from htpy import BaseElement, Element, VoidElement
from htpy import fragment as htpy_fragment
from markupsafe import Markup
from markupsafe import escape as escape_html

from . import actions, routes
from . import fragments as fr
from .component import Component, Mount
from .conversation import Conversation, KeyedSlot
from .errors import RenderError
from .fold import ErrorReport, Fold
from .fragments import ROOT_SELECTOR

__all__ = [
    "FAST_HTPY",
    "Host",
    "error_block",
    "error_html",
    "error_in_page",
    "mount",
    "render",
    "render_container",
    "render_html",
    "render_html_or_error",
    "root_id",
    "to_html",
]


class Host:
    """What a component may ask the kernel during render: its children's HTML.

    It holds its fold only while the fold lasts (`Fold.close` lets go): a component keeps
    its mount after the fold that mounted it is over, so a reference kept beyond the fold
    would chain every conversation value to the one before it, and memory would grow with
    every event whatever `history_limit` says. (Letting go by hand rather than holding the
    fold weakly spares every idle conversation a weak reference: 80 bytes.)
    """

    __slots__ = ("_current",)

    def __init__(self, fold: Fold) -> None:
        self._current: Fold | None = fold

    def release(self) -> None:
        """The fold is over: what its components ask from now on is refused."""
        self._current = None

    @property
    def _fold(self) -> Fold:
        fold = self._current
        if fold is None:
            raise RuntimeError("slot() and keyed() can only be used inside render()")
        return fold

    @property
    def can_go_back(self) -> bool:
        fold = self._current
        return fold is not None and bool(fold.history)

    def render_slot(self, iid: str, slot: str) -> Markup:
        inst = self._fold.instances[iid]
        child = inst.children.get(slot)
        if child is None or child not in self._fold.instances:
            known = ", ".join(sorted(inst.children)) or "none"
            raise RenderError(
                f"{type(inst.component).__qualname__} has no child in slot {slot!r} "
                f"(slots: {known}). Declare it in children(), or show it with call_in_slot()."
            )
        return Markup(render_html(self._fold, child))

    def component(self, iid: str) -> Component:
        inst = self._fold.instances.get(iid)
        if inst is None:
            raise LookupError(f"no instance {iid!r} in this conversation")
        mount(self._fold, inst.component, iid)
        return inst.component

    def render_keyed(self, iid: str, slot: str) -> Markup:
        inst = self._fold.instances[iid]
        keyed = inst.keyed.get(slot, KeyedSlot())
        parts = [
            render_html(self._fold, keyed.children[k])
            for k in keyed.order
            if keyed.children.get(k) in self._fold.instances
        ]
        return Markup(
            f'<div id="{htmllib.escape(iid)}--{htmllib.escape(slot)}">{"".join(parts)}</div>'
        )


def mount(fold: Fold, comp: Component, iid: str, parent: str | None = None) -> None:
    """Give `comp` its Mount (id, conversation, base, host, parent) before user code runs."""
    inst = fold.instances.get(iid)
    if inst is not None:
        parent = inst.parent
    mounted = fold.mounts.get(iid)
    if mounted is None or mounted.parent != parent:
        host = fold.host
        if host is None:
            host = fold.host = Host(fold)
        mounted = fold.mounts[iid] = Mount(iid, fold.cid, fold.conv.base, host, parent)
    comp._parlour = mounted  # pyright: ignore[reportPrivateUsage]


# -- HTML --------------------------------------------------------------------------------------


def to_html(node: object) -> str:
    """`node` (an htpy element, Markup, str, None, ...) as HTML; a plain str is escaped."""
    if node is None:
        return ""
    if type(node) is Element and FAST_HTPY:
        return _html(node)
    html = getattr(node, "__html__", None)
    if html is not None:
        return str(html())
    if isinstance(node, str):
        return str(Markup.escape(node))
    return str(htpy_fragment[node])  # pyright: ignore[reportArgumentType]


# A serialiser for the common htpy trees (plain elements, str, int, tuples and lists, Markup),
# which gives exactly htpy's output at a fraction of its cost: htpy's own walk checks every
# child against a runtime-checkable Protocol. Anything else (contexts, fragments, callables,
# generators, the <html> element, subclasses) is handed to htpy whole. It reads the three
# slots htpy elements are made of (directly: it runs on every click); `FAST_HTPY` turns it
# off if a future htpy changes them.
FAST_HTPY = (
    getattr(BaseElement, "__slots__", None) == ("_name", "_attrs", "_children")
    and Element.iter_chunks is BaseElement.iter_chunks
    and "iter_chunks" in VoidElement.__dict__
)


def _html(node: Any) -> str:
    """`node` as HTML, each element's text built from its children's.

    `node` is typed Any so that no `cast` (a call at run time) is needed on this hot path: the
    type tests below are what tell the kinds apart.
    """
    kind = type(node)  # pyright: ignore[reportUnknownVariableType]
    if kind is Element:
        name, attrs, children = node._name, node._attrs, node._children
        kind = type(children)  # pyright: ignore[reportUnknownVariableType]
        if kind is tuple or kind is list:
            # The leaves are written here rather than by a call each.
            parts: list[str] = []
            for child in children:
                kind = type(child)  # pyright: ignore[reportUnknownVariableType]
                if kind is str:
                    parts.append(_text(child))
                elif kind is int:
                    parts.append(str(child))
                else:
                    parts.append(_html(child))
            return f"<{name}{attrs}>{''.join(parts)}</{name}>"
        if kind is str:
            return f"<{name}{attrs}>{_text(children)}</{name}>"
        return f"<{name}{attrs}>{_html(children)}</{name}>"
    if kind is str:
        return _text(node)
    if kind is int:
        return str(node)
    if kind is tuple or kind is list:
        return "".join([_html(child) for child in node])
    if kind is Markup:
        return node
    if node is None or kind is bool:
        return ""
    if kind is VoidElement:
        return f"<{node._name}{node._attrs}>"
    return str(htpy_fragment[node])


def _attrs_of(node: Any) -> str:
    return node._attrs


def _text(text: str) -> str:
    """`text` escaped as markupsafe escapes it; most text has nothing to escape, and testing
    for the five characters costs less than building the Markup that `escape` returns."""
    if "&" in text or "<" in text or ">" in text or '"' in text or "'" in text:
        return escape_html(text)
    return text


_ROOT_TAG = re.compile(r"\s*<[a-zA-Z][^\s/>]*(?P<attrs>[^>]*)>")
_ID_ATTR = re.compile(r'(?:^|\s)id="([^"]*)"')


def root_id(html: str) -> str | None:
    """The `id` of the outermost element of `html`, if it has one."""
    match = _ROOT_TAG.match(html)
    if match is None:
        return None
    found = _ID_ATTR.search(match.group("attrs"))
    return found.group(1) if found else None


# -- instances -----------------------------------------------------------------------------


def render_html(fold: Fold, iid: str) -> str:
    """The HTML of instance `iid` (children included); RenderError if it cannot be patched."""
    inst = fold.instances[iid]
    comp = inst.component
    mount(fold, comp, iid)
    node = comp.render()
    if type(node) is Element and FAST_HTPY:
        html = _html(node)
        # htpy's attributes begin with the id: what root_id would find, cheaply.
        attrs = _attrs_of(node)
        found = iid if attrs.startswith(f' id="{iid}"') else root_id(html)
    else:
        if isinstance(node, str) and not isinstance(node, Markup):
            raise RenderError(
                f"{type(comp).__qualname__}.render() returned a str ({node[:60]!r}). A str is "
                "text, not HTML: it would be escaped, so its tags would show on the page as "
                "text and the page could not find the instance by its id. Return htpy "
                "elements (`div(self.root)[...]`), or wrap HTML you built and trust in "
                "`Markup(...)`."
            )
        html = to_html(node)
        found = root_id(html)
    if found != iid:
        raise RenderError(
            f"{type(comp).__qualname__}.render() must put self.root on its outermost element, "
            f"so later updates can find it by id: `return div(self.root)[...]`. The outermost "
            f"element had id={found!r}; expected {iid!r}. HTML began: {html[:80]!r}"
        )
    if fold.rendering is not None:
        fold.rendering.add(iid)
    return html


def render_html_or_error(fold: Fold, iid: str) -> str | None:
    """`render_html`, marking what it drew as rendered; on failure an error block, and None."""
    outer = fold.rendering
    fold.rendering = set()
    try:
        html = render_html(fold, iid)
    except Exception as exc:
        fold.rendering = outer
        error_in_page(fold, iid, exc, "render")
        return None
    for done in fold.rendering:
        inst = fold.instances[done]
        if not inst.rendered:
            fold.instances[done] = inst.with_rendered(True)
    fold.rendering = outer
    return html


def render(fold: Fold, iid: str, *, first: bool, selector: str | None = None) -> None:
    """Render `iid`: into `#root` (a frame's first render), or morph it by id."""
    html = render_html_or_error(fold, iid)
    if html is None:
        return
    if first:
        fold.frags.append(fr.Elements(html, ROOT_SELECTOR, "inner", key=ROOT_SELECTOR))
    elif selector is not None:
        fold.frags.append(fr.Elements(html, selector, "outer", key=None))
    else:
        fold.frags.append(fr.Elements(html, None, "outer", key=iid))


def render_container(fold: Fold, parent_iid: str, slot: str) -> None:
    """Render the whole keyed list `slot` of `parent_iid` (after a reorder)."""
    try:
        html = str(Host(fold).render_keyed(parent_iid, slot))
    except Exception as exc:
        error_in_page(fold, parent_iid, exc, "render")
        return
    fold.frags.append(fr.Elements(html, None, "outer", key=f"{parent_iid}--{slot}"))


# -- error blocks ------------------------------------------------------------------------------


def error_html(
    cid: str,
    iid: str,
    error: BaseException,
    phase: str,
    *,
    base: str | None = None,
    retry: bool = True,
) -> str:
    """The error block that stands in for instance `iid` (its id kept, so it can be patched).

    With the conversation's `base`, it offers the way out: "Try again" draws the top frame
    again (`retry`: only when there is one), "Start over" ends the conversation so the tab
    reloads into a new one (`core.routes.retry_path`, `restart_path`).
    """
    message = htmllib.escape(f"{type(error).__name__}: {error}")
    comment = htmllib.escape(f"parlour error: cid={cid} iid={iid} phase={phase}").replace(
        "--", "- -"
    )
    return (
        f'<div id="{htmllib.escape(iid or "root-error")}" class="parlour-error" role="alert">'
        f"<!-- {comment} -->"
        f'<strong class="parlour-error-title">Something went wrong</strong> '
        f'<span class="parlour-error-message">{message}</span>'
        f"{_way_out(base, cid, retry)}</div>"
    )


def _way_out(base: str | None, cid: str, retry: bool) -> str:
    """The block's buttons, when the page can post them (a base, and a client plugged in)."""
    if base is None:
        return ""
    try:
        client = actions.plugged()
    except RuntimeError:  # rendering without parlour.wire (a bare kernel call): no buttons
        return ""
    buttons = [("Try again", routes.retry_path(base, cid))] if retry else []
    buttons.append(("Start over", routes.restart_path(base, cid)))
    return (
        '<span class="parlour-error-actions">'
        + "".join(
            f'<button type="button" class="parlour-button" '
            f'data-on:click="{htmllib.escape(client.event(url))}">{label}</button>'
            for label, url in buttons
        )
        + "</span>"
    )


def error_block(
    conv: Conversation, iid: str | None, error: BaseException, phase: str
) -> fr.Elements:
    """The error block as a fragment: in place of `iid` if it is on the page, else in #root."""
    inst = conv.instances.get(iid) if iid else None
    html = error_html(conv.id, iid or "", error, phase, base=conv.base, retry=bool(conv.stack))
    if inst is not None and inst.rendered:
        return fr.Elements(html, f"#{iid}", "outer", key=iid, error=True)
    return fr.Elements(html, ROOT_SELECTOR, "inner", key=ROOT_SELECTOR, error=True)


def error_in_page(fold: Fold, iid: str, error: BaseException, phase: str) -> None:
    """Report `error` and, if `iid` is on the page (or is the top frame), show it there."""
    fold.errors.append(ErrorReport(fold.cid, iid, phase, error))
    inst = fold.instances.get(iid)
    on_page = inst is not None and (inst.rendered or iid == fold.top)
    if on_page:
        html = error_html(fold.cid, iid, error, phase, base=fold.conv.base)
        if inst is not None and inst.rendered:
            fold.frags.append(fr.Elements(html, f"#{iid}", "outer", key=iid, error=True))
        else:
            fold.frags.append(
                fr.Elements(html, ROOT_SELECTOR, "inner", key=ROOT_SELECTOR, error=True)
            )
            if inst is not None:
                # The block fills the page and carries the instance's id, so the instance is
                # on the page (as its error): settling must not draw over the block.
                fold.instances[iid] = inst.with_rendered(True)
