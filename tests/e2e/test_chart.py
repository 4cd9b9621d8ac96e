"""The chart example in a real browser: pushed points reach the chart, which is never redrawn.

The fast chart (`tests/e2e/widget_apps.py`: a price every 20 ms instead of every second)
pushes each price to the page as one small message. After 50 of them, the canvas uPlot drew
first is still the page's canvas (a property the test set on it is still there: no morph,
no re-render replaced it), and the chart's own data holds the 50 new points.
"""

from collections.abc import Awaitable, Callable

import pytest
from examples.chart import UPLOT
from playwright.async_api import Page, expect
from playwright.async_api import TimeoutError as PlaywrightTimeout

pytestmark = pytest.mark.browser

FAST_CHART = "tests.e2e.widget_apps:fast_chart"
UPDATES = 50
UPDATES_MS = 20_000  # 50 prices at 20 ms each (about 1 s), with room for a loaded machine

VIEW = "document.querySelector('.chart .parlour-widget-view')"

MARK = f"""() => {{
    const view = {VIEW};
    const canvas = view.querySelector('canvas');
    canvas.parlourMarker = 'kept';
    window.markedCanvas = canvas;
    const xs = parlour.instance(view).data[0];
    return xs[xs.length - 1];
}}"""

ENOUGH_NEW = f"""([x0, wanted]) => {{
    const chart = parlour.instance({VIEW});
    return chart.data[0].filter((x) => x > x0).length >= wanted;
}}"""

AFTER = f"""(x0) => {{
    const view = {VIEW};
    const canvases = document.querySelectorAll('.chart canvas');
    const [xs, ys] = parlour.instance(view).data;
    return {{
        canvases: canvases.length,
        same: canvases[0] === window.markedCanvas,
        marker: canvases[0].parlourMarker,
        points: xs.length,
        newer: xs.filter((x) => x > x0).length,
        values: ys.every((y) => typeof y === 'number'),
    }};
}}"""


def _require_uplot() -> None:
    if not (UPLOT / "uPlot.iife.min.js").is_file():
        pytest.fail(
            f"{UPLOT} is missing: run `make setup` (or scripts/fetch-js) to install uPlot "
            "from the npm registry.",
            pytrace=False,
        )


async def test_fifty_pushed_points_keep_the_canvas_and_reach_the_chart(
    visit: Callable[[str], Awaitable[Page]],
) -> None:
    _require_uplot()
    page = await visit(FAST_CHART)
    await expect(page.locator(".chart canvas")).to_have_count(1)
    await page.wait_for_function(  # the first price (the feed starts with the first chart)
        f"() => {{ const c = parlour.instance({VIEW}); return c && c.data[0].length > 0; }}"
    )

    first = await page.evaluate(MARK)
    try:
        await page.wait_for_function(ENOUGH_NEW, arg=[first, UPDATES], timeout=UPDATES_MS)
    except PlaywrightTimeout:
        seen = await page.evaluate(AFTER, first)
        pytest.fail(f"{UPDATES} new points did not reach the chart in time; it has {seen}")

    after = await page.evaluate(AFTER, first)
    assert after["canvases"] == 1
    assert after["same"], "the chart's canvas was replaced"
    assert after["marker"] == "kept"
    assert after["newer"] >= UPDATES
    assert after["points"] <= 120  # the window the behaviour keeps
    assert after["values"]
