// console.js: the parlour console's half in the browser (loaded by every console page).
//
//   console-waiting   behaviour of the header's "N waiting for you" link (the shared view
//                     `waiting`): the count in the tab's title, "(3) parlour console", and in
//                     the nav ([data-console-count]), and a
//                     notification for each new question when the person turned them on
//   console-chart     behaviour of the Agents page's chart (the shared view `activity`):
//                     events per second and questions waiting over the last hour, as SVG
//   [data-console-notify]   the header's "Notify me" toggle: asks the browser's permission
//                     only when clicked; the choice is kept in this browser (localStorage)
//   [data-console-age], [data-console-left]   epoch seconds: the text becomes "3 min ago" /
//                     "4 min 10 s left" and moves every second (parlour.console.times); a
//                     question card's expiry (its data-expires) reads as the time left too
//
// The server sends data, never code: behaviours get JSON (parlour-widgets.js), the rest
// reads attributes. Nothing here is needed to read or answer a question.
(() => {
  "use strict";

  const NOTIFY_KEY = "parlour-console-notify";
  const TITLE_COUNT = /^\(\d+\) /;

  // -- lengths of time, in parlour.console.times.length's words ---------------------------
  function length(seconds) {
    if (!Number.isFinite(seconds) || seconds < 0) seconds = 0;
    if (seconds < 10) return `${seconds.toFixed(1)} s`;
    const whole = Math.floor(seconds);
    const days = Math.floor(whole / 86400);
    const hours = Math.floor((whole % 86400) / 3600);
    const minutes = Math.floor((whole % 3600) / 60);
    const secs = whole % 60;
    if (days) return `${days} d ${hours} h`;
    if (hours) return `${hours} h ${minutes} min`;
    if (minutes) return `${minutes} min ${secs} s`;
    return `${secs} s`;
  }

  function tick() {
    const now = Date.now() / 1000;
    for (const el of document.querySelectorAll("[data-console-age]")) {
      const text = `${length(now - Number(el.getAttribute("data-console-age")))} ago`;
      if (el.textContent !== text) el.textContent = text;
    }
    // A question card's expiry (`data-expires` on .console-question-expires) reads as time left.
    for (const el of document.querySelectorAll("[data-console-left], .console-question-expires[data-expires]")) {
      const left = Number(el.getAttribute("data-console-left") ?? el.getAttribute("data-expires")) - now;
      const text = left > 0 ? `${length(left)} left` : "expired";
      if (el.textContent !== text) el.textContent = text;
    }
  }

  let ticking = false;
  function soon() {
    if (ticking) return;
    ticking = true;
    requestAnimationFrame(() => {
      ticking = false;
      tick();
    });
  }

  // -- notifications ----------------------------------------------------------------------
  function supported() {
    return typeof window.Notification === "function";
  }

  function wanted() {
    return supported() && Notification.permission === "granted" && localStorage.getItem(NOTIFY_KEY) === "on";
  }

  function showToggle() {
    for (const toggle of document.querySelectorAll("[data-console-notify]")) {
      let text = "Notify me";
      let pressed = false;
      let disabled = false;
      if (!supported()) {
        text = "No notifications here";
        disabled = true;
      } else if (Notification.permission === "denied") {
        text = "Notifications blocked";
        disabled = true;
      } else if (wanted()) {
        text = "Notifying";
        pressed = true;
      }
      toggle.textContent = text;
      toggle.setAttribute("aria-pressed", String(pressed));
      toggle.disabled = disabled;
    }
  }

  async function flip() {
    if (!supported()) return;
    if (wanted()) {
      localStorage.setItem(NOTIFY_KEY, "off");
    } else {
      // Asked here only: on the person's click, never by itself.
      const permission =
        Notification.permission === "default" ? await Notification.requestPermission() : Notification.permission;
      localStorage.setItem(NOTIFY_KEY, permission === "granted" ? "on" : "off");
    }
    showToggle();
  }

  document.addEventListener("click", (event) => {
    const toggle = event.target instanceof Element && event.target.closest("[data-console-notify]");
    if (toggle) flip();
  });

  // -- the waiting count: the title, new questions ------------------------------------------
  function title(count) {
    const base = document.title.replace(TITLE_COUNT, "");
    document.title = count > 0 ? `(${count}) ${base}` : base;
    for (const badge of document.querySelectorAll("[data-console-count]")) {
      badge.textContent = String(count);
      badge.hidden = !(count > 0);
    }
  }

  parlour.behaviour("console-waiting", {
    mount(view, data) {
      title(data.count);
      showToggle();
      return { seen: new Set(data.ids) };
    },
    update(view, data, state) {
      title(data.count);
      const fresh = data.ids.filter((id) => !state.seen.has(id));
      state.seen = new Set(data.ids);
      if (!fresh.length || !wanted()) return;
      const newest = data.newest;
      const body = newest && fresh.includes(newest.id) ? newest.question : `${fresh.length} new questions`;
      const heading = newest && fresh.includes(newest.id) ? `@${newest.agent} asks` : "Questions are waiting";
      new Notification(heading, { body, tag: `parlour-question-${fresh[fresh.length - 1]}` });
    },
    unmount() {
      title(0);
    },
  });

  // -- the activity chart ---------------------------------------------------------------------
  const SVG = "http://www.w3.org/2000/svg";
  const HEIGHT = 150;
  const PAD = { left: 34, right: 34, top: 10, bottom: 22 };

  function node(name, attrs, text) {
    const el = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function path(values, top, x, y) {
    return values.map((v, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(v, top).toFixed(1)}`).join("");
  }

  function draw(view, data) {
    const width = Math.max(240, view.clientWidth || 0);
    const svg = node("svg", { viewBox: `0 0 ${width} ${HEIGHT}`, width, height: HEIGHT, class: "console-chart-svg" });
    const events = data.events || [];
    const waiting = data.waiting || [];
    const count = Math.max(events.length, 1);
    const inner = width - PAD.left - PAD.right;
    const base = HEIGHT - PAD.bottom;
    const x = (i) => PAD.left + (count === 1 ? inner : (i * inner) / (count - 1));
    const y = (v, top) => base - (top > 0 ? (v / top) * (base - PAD.top) : 0);
    const topEvents = Math.max(1, ...events);
    const topWaiting = Math.max(1, ...waiting);
    svg.append(node("line", { x1: PAD.left, x2: width - PAD.right, y1: base, y2: base, class: "axis" }));
    svg.append(node("text", { x: PAD.left - 4, y: PAD.top + 8, class: "scale events", "text-anchor": "end" }, topEvents.toFixed(topEvents < 10 ? 1 : 0)));
    svg.append(node("text", { x: width - PAD.right + 4, y: PAD.top + 8, class: "scale waiting" }, String(topWaiting)));
    const minutes = Math.round((count * data.step) / 60);
    svg.append(node("text", { x: PAD.left, y: HEIGHT - 6, class: "time" }, events.length ? `${minutes} min ago` : ""));
    svg.append(node("text", { x: width - PAD.right, y: HEIGHT - 6, class: "time", "text-anchor": "end" }, "now"));
    if (waiting.length) {
      const area = `${path(waiting, topWaiting, x, y)}L${x(waiting.length - 1)},${base}L${x(0)},${base}Z`;
      svg.append(node("path", { d: area, class: "waiting" }));
    }
    if (events.length) svg.append(node("path", { d: path(events, topEvents, x, y), class: "events" }));
    if (events.length === 1) {
      svg.append(node("circle", { cx: x(0), cy: y(events[0], topEvents), r: 2.5, class: "events dot" }));
    }
    const legend = node("text", { x: width / 2, y: HEIGHT - 6, class: "legend", "text-anchor": "middle" });
    legend.append(node("tspan", { class: "events" }, "— events/s  "), node("tspan", { class: "waiting" }, "▮ waiting"));
    svg.append(legend);
    view.replaceChildren(svg);
  }

  parlour.behaviour("console-chart", {
    mount(view, data) {
      const state = { data, width: view.clientWidth };
      draw(view, data);
      state.resizer = new ResizeObserver(() => {
        if (view.clientWidth === state.width) return;
        state.width = view.clientWidth;
        requestAnimationFrame(() => draw(view, state.data));
      });
      state.resizer.observe(view);
      return state;
    },
    update(view, data, state) {
      state.data = data;
      draw(view, data);
    },
    unmount(view, state) {
      state.resizer.disconnect();
    },
  });

  // -- start ----------------------------------------------------------------------------------
  function start() {
    showToggle();
    tick();
    setInterval(tick, 1000);
    // A patch puts back the server's text (a clock time): show the relative one at once.
    new MutationObserver(soon).observe(document.body, { childList: true, subtree: true });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
