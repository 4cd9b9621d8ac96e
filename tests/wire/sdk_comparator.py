"""The comparison rules of the Datastar SDK conformance suite, in Python.

The official runner (Go, `sdk/tests/testdata.go` in starfederation/datastar) decides pass or
fail with these rules, reimplemented here from their description so the 20 golden cases can
run in-process without Go:

1. The response is split into events on blank lines; each line is split at its first `:`
   into a field name and a value, both with surrounding whitespace trimmed.
2. The number of events must match.
3. Per event, the non-`data` fields (`event`, `id`, `retry`) must match exactly, with none
   missing and none extra. A comment line (`: ping`) is a field named `""`, so it fails.
4. `data` values are grouped by their first word (`elements`, `selector`, `signals`, …).
   The set of groups must match; order between groups is ignored, order within a group is
   not.
5. The `elements` group is compared after HTML normalisation (tokenised, attributes
   sorted), so attribute order does not matter; every other group must match exactly.

Rule 5 normalises each `elements` line on its own, which is at least as strict as
normalising the joined HTML: the lines themselves must correspond one to one.

What this does not do: check headers or the status code (the test does), or know about
Datastar semantics beyond these rules.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from html import escape
from html.parser import HTMLParser

__all__ = ["SseEvent", "compare", "normalise_html", "parse_events"]


@dataclass(frozen=True)
class SseEvent:
    """One event: its non-data fields, and its data values grouped by first word."""

    fields: tuple[tuple[str, str], ...]
    data: dict[str, list[str]]


def parse_events(text: str) -> list[SseEvent]:
    """Split an SSE response into events per rules 1 and 4."""
    events: list[SseEvent] = []
    lines: list[tuple[str, str]] = []
    for raw_line in [*text.split("\n"), ""]:
        line = raw_line.removesuffix("\r")
        if line:
            name, _, value = line.partition(":")
            lines.append((name.strip(), value.strip()))
        elif lines:
            events.append(_event(lines))
            lines = []
    return events


def _event(lines: list[tuple[str, str]]) -> SseEvent:
    data: defaultdict[str, list[str]] = defaultdict(list)
    for name, value in lines:
        if name == "data":
            word, _, rest = value.partition(" ")
            data[word].append(rest)
    fields = tuple(sorted((name, value) for name, value in lines if name != "data"))
    return SseEvent(fields, dict(data))


def normalise_html(html: str) -> str:
    """Re-serialise `html` token by token, with every tag's attributes sorted by name."""
    parser = _Normaliser()
    parser.feed(html)
    parser.close()
    return "".join(parser.out)


class _Normaliser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.append(_tag(tag, attrs, ">"))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.append(_tag(tag, attrs, "/>"))

    def handle_endtag(self, tag: str) -> None:
        self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        self.out.append(escape(data, quote=False))

    def handle_comment(self, data: str) -> None:
        self.out.append(f"<!--{data}-->")

    def handle_decl(self, decl: str) -> None:
        self.out.append(f"<!{decl}>")

    def handle_pi(self, data: str) -> None:
        self.out.append(f"<?{data}>")

    def unknown_decl(self, data: str) -> None:
        self.out.append(f"<![{data}]>")


def _tag(tag: str, attrs: list[tuple[str, str | None]], end: str) -> str:
    rendered = "".join(
        f" {name}" if value is None else f' {name}="{escape(value)}"'
        for name, value in sorted(attrs, key=lambda pair: pair[0])
    )
    return f"<{tag}{rendered}{end}"


def compare(expected: str, actual: str) -> list[str]:
    """Every way `actual` fails the suite's rules against `expected`; empty when it passes."""
    want, got = parse_events(expected), parse_events(actual)
    if len(want) != len(got):
        return [f"expected {len(want)} event(s), got {len(got)}"]
    problems: list[str] = []
    for number, (w, g) in enumerate(zip(want, got, strict=True), start=1):
        problems.extend(f"event {number}: {p}" for p in _compare_event(w, g))
    return problems


def _compare_event(want: SseEvent, got: SseEvent) -> list[str]:
    problems: list[str] = []
    if want.fields != got.fields:
        problems.append(f"fields {list(got.fields)} differ from expected {list(want.fields)}")
    if want.data.keys() != got.data.keys():
        problems.append(f"data groups {sorted(got.data)} differ from expected {sorted(want.data)}")
    for group in sorted(want.data.keys() & got.data.keys()):
        w, g = want.data[group], got.data[group]
        if group == "elements":
            w, g = [normalise_html(x) for x in w], [normalise_html(x) for x in g]
        if w != g:
            problems.append(f"data {group!r} lines {g!r} differ from expected {w!r}")
    return problems
