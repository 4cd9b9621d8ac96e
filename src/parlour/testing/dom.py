"""A page's document as Datastar 1.0's client keeps it: parsed HTML, patched, and its signals.

    doc = Document(shell_html)
    doc.apply(event)                       # datastar-patch-elements / -patch-signals
    doc.query("#p1 .count").text           # CSS selectors (soupsieve), first match or None
    doc.signals                            # {"count": 1, ...}: data-signals, data-bind, patches

Patches follow the client's rules (../shared/reference/datastar-protocol.md §1.3):
`outer` and `replace` without a selector match each top-level element by id; every other
mode needs a selector; a selector that matches several elements patches each; `remove`
removes every match; a patch whose target is missing is skipped with a warning, as the
client does (`PatchElementsNoTargetsFound`), and `strict` turns that warning into a failure.
A morph replaces the target's markup: the test page keeps no state that a morph could
preserve, except signals, which live beside the DOM as they do in the browser. `<script>`
elements that arrive are recorded in `scripts`, not run; one marked `data-effect="el.remove()"`
(an execute-script) leaves the page, as it would once run.

The HTML parser and the selector engine are beautifulsoup4 and soupsieve (the `testing`
extra): pure Python, and soupsieve implements CSS selectors level 4.

What this module does not do: talk HTTP, read streams or wait (see `parlour.testing.page`).
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from typing import TYPE_CHECKING, Any, cast

from .expressions import Action, ExpressionError, evaluate, value_of
from .signals import attribute, has_path, merge_patch, set_path, signal_name
from .sse import SseEvent

if TYPE_CHECKING:
    from bs4 import BeautifulSoup
    from bs4.element import PageElement, Tag

__all__ = ["Document", "Element", "ElementNotFound", "PatchError"]

MODES = ("outer", "inner", "replace", "prepend", "append", "before", "after", "remove")
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}
    | {"track", "wbr", "keygen", "param"}
)
_RAW_TEXT = frozenset({"script", "style", "xmp", "iframe", "noembed", "noframes", "plaintext"})
_NOT_TEXT = frozenset({"script", "style", "template", "head", "title"})
_PHRASING = frozenset(
    {"a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "dfn", "em", "i", "kbd", "mark"}
    | {"q", "s", "samp", "small", "strong", "sub", "sup", "time", "u", "var", "wbr"}
)


def _parse(html: str) -> BeautifulSoup:
    try:
        from bs4 import BeautifulSoup
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError(
            "parlour.testing.Page needs beautifulsoup4 to read pages: "
            "pip install 'parlour[testing]'"
        ) from exc
    return BeautifulSoup(html, "html.parser", multi_valued_attributes=None)


class ElementNotFound(LookupError, AssertionError):
    """No element matches what a test looked for; the message shows the page it searched."""


class PatchError(AssertionError):
    """A patch the Datastar client would reject or skip (with `strict`, a skipped one too)."""


# -- reading ------------------------------------------------------------------------------------


def _tags(node: Tag) -> list[Tag]:
    from bs4.element import Tag

    return [child for child in node.children if isinstance(child, Tag)]


def _attrs(tag: Tag) -> dict[str, str]:
    return {name: str(value) for name, value in tag.attrs.items()}


def _attr(tag: Tag, name: str) -> str | None:
    value = tag.get(name)
    return None if value is None else str(value)


def _text(node: Tag) -> str:
    """The text a reader sees, whitespace collapsed, without script or style contents.

    Elements are read as separate words (a list's items, a row's cells, the spans a row lays
    out side by side), except inline phrasing such as `<b>`, `<em>` or `<a>`, which runs on
    with the text around it.
    """
    from bs4.element import NavigableString, PreformattedString, Tag

    parts: list[str] = []

    def walk(tag: Tag) -> None:
        for child in tag.children:
            if isinstance(child, Tag):
                if child.name in _NOT_TEXT:
                    continue
                inline = child.name in _PHRASING
                if not inline:
                    parts.append(" ")
                walk(child)
                if not inline:
                    parts.append(" ")
            elif isinstance(child, NavigableString) and not isinstance(child, PreformattedString):
                parts.append(str(child))  # text, not a comment, doctype or CDATA

    walk(node)
    return " ".join("".join(parts).split())


def _escape(text: str, *, attribute: bool) -> str:
    text = text.replace("&", "&amp;").replace("\u00a0", "&nbsp;")
    text = text.replace("<", "&lt;").replace(">", "&gt;")
    return text.replace('"', "&quot;") if attribute else text


def serialize(node: PageElement, *, raw: bool = False) -> str:
    """HTML for `node` as a browser's `outerHTML` writes it (attributes in their order, void
    elements without an end tag, `&`, `<`, `>` and `"` escaped)."""
    from bs4 import BeautifulSoup
    from bs4.element import Comment, Doctype, NavigableString

    if isinstance(node, Doctype):
        return f"<!DOCTYPE {node}>"
    if isinstance(node, Comment):
        return f"<!--{node}-->"
    if isinstance(node, NavigableString):
        return str(node) if raw else _escape(str(node), attribute=False)
    tag = cast("Tag", node)
    inner_raw = tag.name in _RAW_TEXT
    inner = "".join(serialize(child, raw=inner_raw) for child in tag.children)
    if isinstance(tag, BeautifulSoup):
        return inner
    attrs = "".join(
        f' {name}="{_escape(value, attribute=True)}"' for name, value in _attrs(tag).items()
    )
    if tag.name in _VOID:
        return f"<{tag.name}{attrs}>"
    return f"<{tag.name}{attrs}>{inner}</{tag.name}>"


def _short(value: str, width: int = 60) -> str:
    value = " ".join(value.split())
    return value if len(value) <= width else value[: width - 1] + "…"


def outline(node: Tag, *, limit: int = 60) -> str:
    """`node` as one start tag per line, indented, with its own text; long values cut, and
    at most `limit` lines: readable in an assertion message."""
    from bs4.element import NavigableString, Tag

    lines: list[str] = []
    hidden = 0

    def walk(tag: Tag, depth: int) -> None:
        nonlocal hidden
        if len(lines) >= limit:
            hidden += 1 + sum(1 for _ in tag.find_all(True))
            return
        attrs = "".join(
            f' {k}="{_short(v, 50).replace(chr(34), "&quot;")}"' for k, v in _attrs(tag).items()
        )
        own = "".join(str(c) for c in tag.children if type(c) is NavigableString)
        text = "" if tag.name in _NOT_TEXT else _short(own)
        lines.append(f"{'  ' * depth}<{tag.name}{attrs}>{text}")
        for child in tag.children:
            if isinstance(child, Tag) and child.name not in ("head", "script", "style"):
                walk(child, depth + 1)

    walk(node, 0)
    if hidden:
        lines.append(f"… and {hidden} more elements")
    return "\n".join(lines)


class Element:
    """One element of the page, read-only: its tag, attributes, text and HTML.

    `tag` is the underlying `bs4.Tag` for what this view does not offer; changing it changes
    the test page only.
    """

    __slots__ = ("tag",)

    def __init__(self, tag: Tag) -> None:
        self.tag = tag

    def __repr__(self) -> str:
        return f"<Element {_short(serialize(self.tag), 100)}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Element) and other.tag is self.tag

    def __hash__(self) -> int:
        return id(self.tag)

    @property
    def name(self) -> str:
        return self.tag.name

    @property
    def id(self) -> str | None:
        return self.get("id")

    @property
    def attrs(self) -> dict[str, str]:
        return _attrs(self.tag)

    def get(self, name: str) -> str | None:
        return _attr(self.tag, name)

    @property
    def text(self) -> str:
        """The text inside, whitespace collapsed (no script or style contents)."""
        return _text(self.tag)

    @property
    def text_content(self) -> str:
        """Every piece of text inside, as it is (the DOM's `textContent`: no whitespace
        collapsed, scripts and styles included)."""
        return self.tag.get_text()

    @property
    def html(self) -> str:
        """The element's own HTML (`outerHTML`)."""
        return serialize(self.tag)

    @property
    def inner_html(self) -> str:
        return "".join(serialize(child) for child in self.tag.children)

    @property
    def children(self) -> list[Element]:
        return [Element(tag) for tag in _tags(self.tag)]

    def query(self, selector: str) -> Element | None:
        found = self.tag.select_one(selector)
        return None if found is None else Element(found)

    def all(self, selector: str) -> list[Element]:
        return [Element(tag) for tag in self.tag.select(selector)]


# -- the document -------------------------------------------------------------------------------


class _Before:
    """What a morph's targets held before it: the data-signals attributes, bound values and
    scripts that the client would not run again on an element the morph kept."""

    def __init__(self, doc: Document, targets: list[Tag]) -> None:
        self.signal_attrs: Counter[tuple[str, str]] = Counter()
        self.bound: dict[str, Any] = {}
        self.scripts: Counter[str] = Counter()
        for target in targets:
            for tag in [target, *target.find_all(True)]:
                for name, value in _attrs(tag).items():
                    parsed = attribute(name)
                    if parsed and parsed[0] == "signals":
                        self.signal_attrs[(name, value)] += 1
                bound = doc.bound_signal(tag)
                if bound is not None:
                    self.bound[bound] = doc.control_value(tag)
                if tag.name == "script":
                    self.scripts[serialize(tag)] += 1


class Document:
    """The page: its DOM, its signals, the scripts it was sent, and the client's warnings."""

    def __init__(self, html: str, *, strict: bool = True) -> None:
        self.soup = _parse(html)
        self.strict = strict
        self.signals: dict[str, Any] = {}
        self.scripts: list[str] = []
        """The JavaScript of every `<script>` that arrived in a patch, in order (not run)."""
        self.warnings: list[str] = []
        """What the Datastar client would have logged: patches that found no target,
        expressions this page cannot evaluate."""
        self._initialise([self.soup], None)

    @property
    def html(self) -> str:
        return serialize(self.soup)

    @property
    def body(self) -> Element:
        return Element(self._body())

    def _body(self) -> Tag:
        return self.soup.body or self.soup

    def query(self, selector: str) -> Element | None:
        found = self.soup.select_one(selector)
        return None if found is None else Element(found)

    def all(self, selector: str) -> list[Element]:
        return [Element(tag) for tag in self.soup.select(selector)]

    def outline(self, *, limit: int = 60) -> str:
        return outline(self._body(), limit=limit)

    def handler(self, element: Element, event: str) -> str | None:
        """The expression of the element's `data-on:EVENT` attribute (any modifiers), or
        `data-init` for the event `init`."""
        for name, value in element.attrs.items():
            parsed = attribute(name)
            if parsed is None:
                continue
            if (parsed[0], parsed[1]) == ("on", event) or (event == "init" == parsed[0]):
                return value
        return None

    def actions(self, element: Element, event: str = "click") -> list[Action]:
        """The requests the element's `data-on:EVENT` (or `data-init`, for `init`) would
        make, without making them: the expression runs on a copy of the signals."""
        expression = self.handler(element, event)
        signals = json.loads(json.dumps(self.signals))
        return [] if expression is None else evaluate(expression, signals)

    # -- signals and bound controls --------------------------------------------------------

    def bound_signal(self, tag: Tag) -> str | None:
        """The signal `tag` is bound to by `data-bind:NAME` or `data-bind="NAME"`, if any."""
        for name, value in _attrs(tag).items():
            parsed = attribute(name)
            if parsed and parsed[0] == "bind":
                _, key, mods = parsed
                return signal_name(key, mods) if key else value
        return None

    def control_value(self, tag: Tag) -> Any:
        """What `data-bind` reads from a form control, as its markup says (its `value`,
        `checked`, `selected` attributes; number inputs give numbers)."""
        kind = (_attr(tag, "type") or "text").lower() if tag.name == "input" else tag.name
        if kind == "checkbox":
            value = _attr(tag, "value")
            checked = tag.has_attr("checked")
            return checked if value in (None, "on") else (str(value) if checked else "")
        if kind == "select":
            options = tag.find_all("option")
            chosen = [o for o in options if o.has_attr("selected")] or options[:1]
            values = [_attr(o, "value") or o.get_text() for o in chosen]
            return values if tag.has_attr("multiple") else (values[0] if values else "")
        if kind == "textarea":
            return tag.get_text()
        raw = _attr(tag, "value") or ""
        if kind in ("number", "range"):
            try:
                number = float(raw)
            except ValueError:
                return raw
            return int(number) if number.is_integer() else number
        return raw

    def _initialise(self, roots: list[Tag], before: _Before | None) -> None:
        """Run the attribute plugins that make signals, in document order, on new markup:
        `data-signals` (skipped on a morphed element whose attribute did not change) and
        `data-bind` (creates a missing signal from the control; a morph that changes what
        the control shows updates the signal, as the client's prop-change event does)."""
        from bs4 import BeautifulSoup

        for root in roots:
            tags = list(root.find_all(True))
            for tag in tags if isinstance(root, BeautifulSoup) else [root, *tags]:
                for name, value in _attrs(tag).items():
                    parsed = attribute(name)
                    if parsed is None or parsed[0] != "signals":
                        continue
                    if before is not None and before.signal_attrs[(name, value)] > 0:
                        before.signal_attrs[(name, value)] -= 1
                        continue
                    self._signals_attribute(parsed[1], parsed[2], value)
                bound = self.bound_signal(tag)
                if bound is None:
                    continue
                shown = self.control_value(tag)
                changed = before is not None and before.bound.get(bound, shown) != shown
                if changed or not has_path(self.signals, bound):
                    set_path(self.signals, bound, shown)

    def _signals_attribute(self, key: str | None, mods: dict[str, list[str]], raw: str) -> None:
        try:
            value = value_of(raw, self.signals)
        except ExpressionError as exc:
            self.warnings.append(str(exc))
            return
        if key:
            path = signal_name(key, mods)
            if not ("ifmissing" in mods and has_path(self.signals, path)):
                set_path(self.signals, path, value)
        elif isinstance(value, dict):
            merge_patch(
                self.signals, cast(dict[str, Any], value), only_if_missing="ifmissing" in mods
            )
        else:
            self.warnings.append(f"data-signals={raw!r} is not an object of signals")

    # -- patches ---------------------------------------------------------------------------

    def apply(self, event: SseEvent) -> None:
        """Apply one SSE event as the client does; other event types are ignored."""
        if event.type == "datastar-patch-elements":
            self.patch_elements(
                event.elements,
                event.selector,
                event.mode,
                namespace=event.data.get("namespace", ["html"])[0],
            )
        elif event.type == "datastar-patch-signals":
            only = event.data.get("onlyIfMissing", ["false"])[0].strip() == "true"
            self.patch_signals(event.signals, only_if_missing=only)

    def patch_signals(self, patch: Any, *, only_if_missing: bool = False) -> None:
        if not isinstance(patch, dict):
            raise PatchError(f"datastar-patch-signals needs a JSON object, got {patch!r}")
        merge_patch(self.signals, cast(dict[str, Any], patch), only_if_missing=only_if_missing)

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        if self.strict:
            raise PatchError(f"{message}\n\nThe page:\n{self.outline()}")

    def patch_elements(
        self, html: str, selector: str | None, mode: str = "outer", *, namespace: str = "html"
    ) -> None:
        """Patch `html` into the page: `selector` and `mode` as in `datastar-patch-elements`."""
        if mode not in MODES:
            raise PatchError(f"PatchElementsInvalidMode: {mode!r} (expected one of {MODES})")
        if not selector and mode not in ("outer", "replace"):
            raise PatchError(f"PatchElementsExpectedSelector: mode {mode!r} needs a selector")
        if namespace not in ("html", "svg", "mathml"):
            raise PatchError(f"PatchElementsInvalidNamespace: {namespace!r}")
        content = _parse(html)
        nodes = list(content.contents)
        if not selector:
            for new in _tags(content):
                target = self._target_of(new)
                if target is None:
                    self._warn(
                        f"PatchElementsNoTargetsFound: no element with id {new.get('id')!r} "
                        f"on the page for {_short(serialize(new), 80)!r}"
                    )
                    continue
                self._patch(mode, [new], [target])
            return
        targets = self.soup.select(selector)
        if not targets:
            self._warn(f"PatchElementsNoTargetsFound: no element matches {selector!r} ({mode})")
            return
        self._patch(mode, nodes, targets)

    def _target_of(self, new: Tag) -> Tag | None:
        if new.name in ("html", "head", "body"):
            return self.soup.find(new.name)  # pyright: ignore[reportReturnType]
        ident = new.get("id")
        if not ident:
            return None
        return self.soup.find(id=str(ident))  # pyright: ignore[reportReturnType]

    def _patch(self, mode: str, nodes: list[PageElement], targets: list[Tag]) -> None:
        if mode == "remove":
            for target in targets:
                target.extract()
            return
        before = _Before(self, targets) if mode in ("outer", "inner") else None
        inserted: list[Tag] = []
        for index, target in enumerate(targets):
            fresh = nodes if index == 0 else [_clone(node) for node in nodes]
            if mode == "outer" and self._ignores_morph(target, fresh):
                continue
            inserted.extend(self._place(mode, fresh, target))
        self._initialise(inserted, before)
        self._run_scripts(inserted, before)

    @staticmethod
    def _ignores_morph(target: Tag, nodes: list[PageElement]) -> bool:
        tags = [node for node in nodes if getattr(node, "name", None)]
        return (
            len(tags) == 1
            and target.has_attr("data-ignore-morph")
            and cast("Tag", tags[0]).has_attr("data-ignore-morph")
        )

    def _place(self, mode: str, nodes: list[PageElement], target: Tag) -> list[Tag]:
        from bs4.element import Tag

        if mode in ("outer", "replace"):
            if nodes:
                target.replace_with(*nodes)
            else:
                target.extract()
        elif mode == "inner":
            target.clear()
            target.extend(nodes)
        elif mode == "prepend":
            target.insert(0, *nodes)
        elif mode == "append":
            target.extend(nodes)
        elif mode == "before":
            target.insert_before(*nodes)
        else:  # after
            target.insert_after(*nodes)
        return [node for node in nodes if isinstance(node, Tag)]

    def _run_scripts(self, inserted: list[Tag], before: _Before | None) -> None:
        for root in inserted:
            scripts = [root] if root.name == "script" else list(root.find_all("script"))
            for script in scripts:
                markup = serialize(script)
                if before is not None and before.scripts[markup] > 0:
                    before.scripts[markup] -= 1
                    continue
                self.scripts.append(script.get_text())
                if (_attr(script, "data-effect") or "").replace(" ", "") == "el.remove()":
                    script.extract()


def _clone(node: PageElement) -> PageElement:
    """A deep copy of `node` for the second and later targets of one patch."""
    return copy.copy(node)
