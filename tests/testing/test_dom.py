"""`parlour.testing.dom.Document`: a page patched the way Datastar 1.0's client patches it.

Each test sends the page a `datastar-patch-elements` or `datastar-patch-signals` event, as the
stream would, and reads the page back (../shared/reference/datastar-protocol.md §1.3-§1.5).
"""

from __future__ import annotations

import json

import pytest

from parlour.testing import Document, ElementNotFound, PatchError, SseEvent

PAGE = (
    "<!doctype html><html><head><title>t</title></head><body>"
    '<div id="root"><ul id="list"><li id="a">A</li><li id="b">B</li></ul>'
    '<p id="note" class="x">note</p></div></body></html>'
)


def patch(elements: str = "", selector: str | None = None, mode: str = "outer") -> SseEvent:
    data: dict[str, list[str]] = {"elements": elements.split("\n")} if elements else {}
    if selector is not None:
        data["selector"] = [selector]
    if mode != "outer":
        data["mode"] = [mode]
    return SseEvent("datastar-patch-elements", data=data)


def signals(value: object, *, only_if_missing: bool = False) -> SseEvent:
    data = {"signals": [json.dumps(value)]}
    if only_if_missing:
        data["onlyIfMissing"] = ["true"]
    return SseEvent("datastar-patch-signals", data=data)


def ids(doc: Document, selector: str = "#list > li") -> list[str | None]:
    return [e.id for e in doc.all(selector)]


def test_outer_without_a_selector_morphs_each_top_level_element_by_its_id() -> None:
    doc = Document(PAGE)
    doc.apply(patch('<li id="b">B2</li>\n<p id="note">new note</p>'))
    assert [e.text for e in doc.all("#list li")] == ["A", "B2"]
    assert doc.query("#note") is not None
    assert doc.all("#note")[0].attrs == {"id": "note"}  # the new markup, attributes and all
    assert doc.all("#note")[0].text == "new note"


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("outer", ["a", "x", "y"]),
        ("replace", ["a", "x", "y"]),
        ("before", ["a", "x", "y", "b"]),
        ("after", ["a", "b", "x", "y"]),
    ],
)
def test_modes_around_the_selected_element(mode: str, expected: list[str]) -> None:
    doc = Document(PAGE)
    doc.apply(patch('<li id="x">X</li><li id="y">Y</li>', "#b", mode))
    assert ids(doc) == expected


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("inner", ["x", "y"]),
        ("prepend", ["x", "y", "a", "b"]),
        ("append", ["a", "b", "x", "y"]),
    ],
)
def test_modes_inside_the_selected_element(mode: str, expected: list[str]) -> None:
    doc = Document(PAGE)
    doc.apply(patch('<li id="x">X</li><li id="y">Y</li>', "#list", mode))
    assert ids(doc) == expected


def test_remove_removes_every_element_the_selector_matches() -> None:
    doc = Document(PAGE)
    doc.apply(patch(selector="#a, #note", mode="remove"))
    assert ids(doc) == ["b"]
    assert doc.query("#note") is None


def test_a_selector_matching_several_elements_patches_each_with_its_own_copy() -> None:
    doc = Document(PAGE)
    doc.apply(patch("<b>new</b>", "#list > li", "append"))
    assert [e.html for e in doc.all("#list > li")] == [
        '<li id="a">A<b>new</b></li>',
        '<li id="b">B<b>new</b></li>',
    ]


def test_modes_other_than_outer_and_replace_need_a_selector() -> None:
    with pytest.raises(PatchError, match="PatchElementsExpectedSelector"):
        Document(PAGE).apply(patch('<li id="a">A</li>', mode="inner"))


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(PatchError, match="PatchElementsInvalidMode: 'sideways'"):
        Document(PAGE).apply(patch("<i>x</i>", "#a", "sideways"))


def test_a_patch_whose_target_is_missing_fails_showing_the_page() -> None:
    doc = Document(PAGE)
    with pytest.raises(PatchError, match="no element with id 'gone'") as caught:
        doc.apply(patch('<li id="gone">?</li>'))
    assert '<ul id="list">' in str(caught.value)  # the page it looked in
    with pytest.raises(PatchError, match=r"no element matches '#gone' \(append\)"):
        doc.apply(patch("<i>x</i>", "#gone", "append"))


def test_without_strict_a_missing_target_is_a_warning_as_in_the_browser() -> None:
    doc = Document(PAGE, strict=False)
    before = doc.html
    doc.apply(patch('<li id="gone">?</li><li id="a">A2</li>'))
    assert [e.text for e in doc.all("#list li")] == ["A2", "B"]  # the rest still applied
    assert doc.html != before
    assert len(doc.warnings) == 1
    assert "PatchElementsNoTargetsFound" in doc.warnings[0]


def test_events_that_are_not_datastar_patches_are_ignored() -> None:
    doc = Document(PAGE)
    before = doc.html
    doc.apply(SseEvent("message", data={"elements": ['<li id="a">X</li>']}))
    doc.apply(SseEvent("datastar-merge-fragments", data={"fragments": ["<i>old</i>"]}))
    assert doc.html == before


# -- signals ----------------------------------------------------------------------------------


def test_patch_signals_is_a_json_merge_patch() -> None:
    doc = Document(PAGE)
    doc.apply(signals({"count": 1, "user": {"name": "Ada", "email": "a@x"}, "gone": 1}))
    doc.apply(signals({"count": 2, "user": {"email": None}, "gone": None}))
    assert doc.signals == {"count": 2, "user": {"name": "Ada"}}


def test_only_if_missing_sets_only_new_signals() -> None:
    doc = Document(PAGE)
    doc.apply(signals({"count": 1, "user": {"name": "Ada"}}))
    doc.apply(
        signals({"count": 9, "new": True, "user": {"name": "X", "age": 3}}, only_if_missing=True)
    )
    assert doc.signals == {"count": 1, "new": True, "user": {"name": "Ada", "age": 3}}


def test_data_signals_and_data_bind_make_signals_as_the_page_loads() -> None:
    doc = Document(
        "<body>"
        '<div data-signals=\'{"_answer": "/x", "count": 0}\'></div>'
        "<div data-signals:user.first-name=\"'Ada'\"></div>"
        '<div data-signals:count__ifmissing="5"></div>'
        '<input data-bind:draft-p1__case.kebab value="hi">'
        "<input data-bind:nick-name>"
        '<input type="number" data-bind="age" value="42">'
        '<input type="checkbox" data-bind:agree checked>'
        '<select data-bind:size><option value="s">S</option><option selected>M</option></select>'
        "</body>"
    )
    assert doc.signals == {
        "_answer": "/x",
        "count": 0,
        "user": {"firstName": "Ada"},
        "draft-p1": "hi",
        "nickName": "",
        "age": 42,
        "agree": True,
        "size": "M",
    }


def test_a_morph_runs_data_signals_again_only_where_the_attribute_changed() -> None:
    doc = Document('<body><div id="p1" data-signals:mode="\'a\'"><i>1</i></div></body>')
    doc.apply(signals({"mode": "changed in the page"}))
    doc.apply(patch('<div id="p1" data-signals:mode="\'a\'"><i>2</i></div>'))
    assert doc.signals["mode"] == "changed in the page"  # same attribute: not run again
    doc.apply(patch('<div id="p1" data-signals:mode="\'b\'"><i>3</i></div>'))
    assert doc.signals["mode"] == "b"


def test_a_morph_that_changes_a_bound_controls_value_updates_its_signal() -> None:
    doc = Document('<body><form id="f"><input name="q" data-bind:q value="a"></form></body>')
    doc.apply(signals({"q": "typed"}))
    doc.apply(patch('<form id="f"><input name="q" data-bind:q value="a"></form>'))
    assert doc.signals["q"] == "typed"  # the server sent the same value: what was typed stays
    doc.apply(patch('<form id="f"><input name="q" data-bind:q value="reset"></form>'))
    assert doc.signals["q"] == "reset"


# -- scripts ----------------------------------------------------------------------------------


def test_scripts_are_recorded_not_run_and_execute_scripts_leave_the_page() -> None:
    doc = Document(PAGE)
    doc.apply(
        patch('<script data-effect="el.remove()">location.reload()</script>', "body", "append")
    )
    doc.apply(patch('<div id="note"><script>window.x = 1</script></div>'))
    assert doc.scripts == ["location.reload()", "window.x = 1"]
    assert len(doc.all("script")) == 1  # the execute-script removed itself


# -- reading ----------------------------------------------------------------------------------


def test_html_is_serialised_as_a_browser_does() -> None:
    doc = Document(
        '<body><p title="a &quot;b&quot; &amp; c" hidden>x &lt; y &amp; z</p>'
        "<br><input value=1><style>a > b {}</style></body>"
    )
    assert doc.body.inner_html == (
        '<p title="a &quot;b&quot; &amp; c" hidden="">x &lt; y &amp; z</p>'
        '<br><input value="1"><style>a > b {}</style>'
    )


def test_text_collapses_whitespace_and_skips_scripts_and_styles() -> None:
    doc = Document(
        "<body><div id=d>\n  Hello <b>big</b>\n world<script>x()</script><style>p{}</style>"
        "<ul><li>one</li><li>t<em>w</em>o</li></ul><span>a</span><span>b</span></div></body>"
    )
    element = doc.query("#d")
    assert element is not None
    assert element.text == "Hello big world one two a b"  # elements are words, <em> runs on
    assert element.text_content.startswith("\n  Hello big\n world")  # as it is, all of it


def test_elements_read_attributes_children_and_css_selectors() -> None:
    doc = Document(PAGE)
    root = doc.query("#root")
    assert root is not None
    assert [c.name for c in root.children] == ["ul", "p"]
    assert [e.id for e in root.all("li:nth-child(2), p.x")] == ["b", "note"]
    assert root.query("li:-soup-contains('B')") == doc.query("#b")
    assert doc.query("#nope") is None


def test_element_not_found_is_a_lookup_error_and_an_assertion() -> None:
    assert issubclass(ElementNotFound, LookupError)
    assert issubclass(ElementNotFound, AssertionError)
