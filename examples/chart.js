// The `line-chart` behaviour of examples/chart.py: a uPlot line chart of [time, value] points.
//
//   mount(view, {points, window, label})   draw the chart in the widget's view
//   update(view, {points}, chart)          a render sent the whole series: show it
//   push(view, {points}, chart)            new points: append them, keep the last `window`
//   unmount(view, chart)                   the widget left the page: free the chart
//
// The chart resizes with its view. `parlour.instance(el)` is the uPlot instance (its `data`
// is [[times], [values]]).
(() => {
  "use strict";

  function series(points) {
    const xs = [];
    const ys = [];
    for (const [x, y] of points || []) {
      xs.push(x);
      ys.push(y);
    }
    return [xs, ys];
  }

  function size(view) {
    return { width: Math.max(240, view.clientWidth), height: 260 };
  }

  parlour.behaviour("line-chart", {
    mount(view, data) {
      const chart = new uPlot(
        {
          ...size(view),
          scales: { x: { time: true } },
          series: [{}, { label: data.label || "value", stroke: "#3b5bdb", width: 2 }],
          legend: { live: true },
        },
        series(data.points),
        view,
      );
      chart.window = data.window || 120;
      let width = view.clientWidth;
      chart.resizer = new ResizeObserver(() => {
        if (view.clientWidth === width) return; // its own height changing: nothing to do
        width = view.clientWidth;
        requestAnimationFrame(() => chart.setSize(size(view)));
      });
      chart.resizer.observe(view);
      return chart;
    },
    update(view, data, chart) {
      chart.setData(series(data.points));
    },
    push(view, message, chart) {
      const [xs, ys] = chart.data;
      const [nx, ny] = series(message.points);
      const keep = Math.max(0, xs.length + nx.length - chart.window);
      chart.setData([xs.concat(nx).slice(keep), ys.concat(ny).slice(keep)]);
    },
    unmount(view, chart) {
      chart.resizer.disconnect();
      chart.destroy();
    },
  });
})();
