"""parlour passes the Datastar SDK conformance suite: all 20 golden cases, in-process.

Each case directory holds `input.json` (sent as the request's signals) and `output.txt`
(the expected SSE answer). The cases live in the shared folder beside the repository
(`../shared/conformance/datastar-sdk`, the CI layout); if it is missing, these tests fail
rather than skip, because a silently skipped conformance suite proves nothing.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from parlour.wire.conformance import app
from tests.wire.sdk_comparator import compare, normalise_html

SUITE = (Path(__file__).parents[2] / ".." / "shared" / "conformance" / "datastar-sdk").resolve()
EXPECTED_CASE_COUNT = 20
SUITE_MISSING = (
    f"the Datastar SDK conformance cases were not found: expected a directory {SUITE} "
    "holding get/<case>/{input.json,output.txt} and post/<case>/…; check out the shared "
    "folder beside this repository (as CI does: ../shared)"
)
SUITE_HEADERS = {"Accept": "text/event-stream", "datastar-request": "true"}


def _case_dirs() -> list[Path]:
    if not SUITE.is_dir():
        return []
    return sorted(path.parent for path in SUITE.glob("*/*/input.json"))


CASES = _case_dirs()


def _case_params() -> list[object]:
    if not CASES:
        return [pytest.param(None, id="suite-not-found")]
    return [pytest.param(case, id=f"{case.parent.name}/{case.name}") for case in CASES]


async def _ask(method: str, body: str, content_type: str = "application/json") -> httpx.Response:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        if method == "get":
            # urlencode writes spaces as "+", exactly like the browser's URLSearchParams.
            return await client.get(f"/test?{urlencode({'datastar': body})}", headers=SUITE_HEADERS)
        headers = {**SUITE_HEADERS, "Content-Type": content_type}
        return await client.post("/test", content=body.encode(), headers=headers)


def test_the_suite_is_present_with_all_20_cases() -> None:
    assert SUITE.is_dir(), SUITE_MISSING
    names = [f"{case.parent.name}/{case.name}" for case in CASES]
    assert len(CASES) == EXPECTED_CASE_COUNT, (
        f"expected {EXPECTED_CASE_COUNT} conformance cases in {SUITE}, found {len(CASES)}: "
        f"{names}; the shared folder is incomplete or from another suite version"
    )


@pytest.mark.parametrize("case", _case_params())
async def test_the_conformance_app_answers_the_golden_case(case: Path | None) -> None:
    if case is None:
        pytest.fail(SUITE_MISSING)
    method = case.parent.name
    assert method in ("get", "post"), f"unexpected case folder {case.parent} (get/ or post/)"
    expected = (case / "output.txt").read_text(encoding="utf-8")

    response = await _ask(method, (case / "input.json").read_text(encoding="utf-8"))

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/event-stream"
    problems = compare(expected, response.text)
    assert not problems, "\n".join([*problems, "--- the app answered ---", response.text])


async def test_a_post_with_a_charset_in_its_content_type_is_read() -> None:
    body = '{"events": [{"type": "patchElements", "elements": "<p id=\\"a\\">é</p>"}]}'
    response = await _ask("post", body, content_type="application/json; charset=utf-8")
    assert response.status_code == 200, response.text
    assert response.text == 'event: datastar-patch-elements\ndata: elements <p id="a">é</p>\n\n'


async def test_the_svg_namespace_is_sent_though_the_suite_does_not_cover_it() -> None:
    body = (
        '{"events": [{"type": "patchElements", "elements": "<circle id=\\"c\\"/>",'
        ' "selector": "#vis", "mode": "append", "namespace": "svg"}]}'
    )
    response = await _ask("post", body)
    assert "data: namespace svg\n" in response.text


async def test_malformed_json_is_answered_with_400_and_the_reason() -> None:
    response = await _ask("get", "{not json")
    assert response.status_code == 400
    assert "not valid JSON" in response.text


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ('{"events": 3}', '"events" to be a list'),
        ('{"events": [{"type": "patchSomething"}]}', "'patchSomething'"),
        ('{"events": [{"type": "patchElements", "mode": "sideways"}]}', "'sideways'"),
        ('{"events": [{"type": "patchElements", "mode": "inner"}]}', "needs a selector"),
        ('{"events": [{"type": "executeScript"}]}', "script string"),
        ('{"events": [{"type": "patchSignals", "signals": [1]}]}', "signals to be an object"),
    ],
)
async def test_a_case_the_app_cannot_read_is_answered_with_400(body: str, reason: str) -> None:
    response = await _ask("post", body)
    assert response.status_code == 400
    assert reason in response.text


# The comparator decides what passes, so it gets checked too: a comparator that accepts
# anything would make the 20 passes above worthless.

EXPECTED = "event: datastar-patch-elements\ndata: mode append\ndata: elements <a x='1' y=2>\n\n"


def test_the_comparator_accepts_the_same_event_with_groups_and_attributes_reordered() -> None:
    actual = 'event: datastar-patch-elements\ndata: elements <a y="2" x="1">\ndata: mode append\n\n'
    assert compare(EXPECTED, actual) == []


def test_the_comparator_rejects_a_heartbeat_comment() -> None:
    assert compare(EXPECTED, f": ping\n{EXPECTED}") != []


def test_the_comparator_rejects_an_extra_or_missing_field() -> None:
    with_id = EXPECTED.replace("\ndata: mode", "\nid: 1\ndata: mode", 1)
    assert compare(EXPECTED, with_id) != []
    assert compare(with_id, EXPECTED) != []


def test_the_comparator_rejects_reordered_lines_within_a_group() -> None:
    want = "event: e\ndata: signals {\ndata: signals }\n\n"
    assert compare(want, "event: e\ndata: signals }\ndata: signals {\n\n") != []


def test_the_comparator_rejects_a_different_event_count() -> None:
    assert compare(EXPECTED, EXPECTED + EXPECTED) != []


def test_the_comparator_compares_non_html_groups_exactly() -> None:
    want = 'event: e\ndata: signals {"a":1}\n\n'
    assert compare(want, 'event: e\ndata: signals {"a": 1}\n\n') != []


def test_html_normalisation_sorts_attributes_and_keeps_everything_else() -> None:
    assert normalise_html("<p b='2' a=\"1\">x &amp; y</p>") == '<p a="1" b="2">x &amp; y</p>'
