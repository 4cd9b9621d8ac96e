// parlour-widgets.js: the page's half of client-side widgets (parlour.core.widgets).
//
// Every parlour page loads it (the shell, before the app's own scripts). A behaviour is
// registered by name, in a static file the app serves:
//
//   parlour.behaviour("line-chart", {
//     mount(view, data)              { ...; return instance },  // the host appeared
//     update(view, data, instance)   { ... },  // a render gave the host different data
//     push(view, message, instance)  { ... },  // widget_push() sent one message
//     unmount(view, instance)        { ... },  // the host left the page
//   });
//
// A host is an element with data-parlour-widget="NAME" and its data, as JSON, in
// data-parlour-data; `view` is its child carrying data-ignore-morph (Datastar's morph leaves
// that subtree alone), or the host itself when it has none. One MutationObserver watches the
// page: hosts that appear are mounted (or when their behaviour is registered, if later), a
// changed data-parlour-data is an update, a <template data-parlour-message='JSON'> appended
// to a host is one push (read once, then removed), and a host that is still gone after the
// mutations of its turn is unmounted (a morph that only moved it does not count).
// `parlour.instance(el)` is what mount returned, for the widget holding `el`.
//
// Nothing here evaluates code: the server sends data, never JavaScript, so behaviours work
// under a Content-Security-Policy that allows only the page's own script files.
(() => {
  "use strict";
  if (window.parlour && typeof window.parlour.behaviour === "function") return;

  const WIDGET = "data-parlour-widget";
  const DATA = "data-parlour-data";
  const MESSAGE = "data-parlour-message";
  const IGNORE = "data-ignore-morph";

  const behaviours = new Map(); // name -> the object registered
  const mounted = new WeakMap(); // host -> {name, impl, host, view, data, instance}

  const label = (host) => (host.id ? `#${host.id}` : host.tagName.toLowerCase());

  function parse(text, what, host) {
    if (text === null || text === "") return null;
    try {
      return JSON.parse(text);
    } catch (error) {
      console.error(`parlour: the ${what} of widget ${label(host)} is not JSON`, error);
      return null;
    }
  }

  function viewOf(host) {
    for (const child of host.children) if (child.hasAttribute(IGNORE)) return child;
    return host;
  }

  function run(state, hook, ...args) {
    const fn = state.impl[hook];
    if (typeof fn !== "function") return undefined;
    try {
      return fn.call(state.impl, state.view, ...args);
    } catch (error) {
      console.error(`parlour: behaviour ${state.name}.${hook} failed on ${label(state.host)}`, error);
      return undefined;
    }
  }

  function mount(host) {
    if (!host.isConnected || mounted.has(host)) return;
    const name = host.getAttribute(WIDGET);
    const impl = behaviours.get(name);
    if (impl === undefined) return; // mounted when its behaviour is registered
    const data = host.getAttribute(DATA);
    const state = { name, impl, host, view: viewOf(host), data, instance: undefined };
    mounted.set(host, state);
    state.instance = run(state, "mount", parse(data, "data", host));
    // Messages that arrived before the behaviour was registered, in order.
    for (const message of Array.from(host.children)) {
      if (message.hasAttribute(MESSAGE)) deliver(message);
    }
  }

  function unmount(host) {
    const state = mounted.get(host);
    if (state === undefined) return;
    mounted.delete(host);
    run(state, "unmount", state.instance);
  }

  function deliver(message) {
    const host = message.parentElement;
    const state = host && mounted.get(host);
    if (!state) return; // kept until the host is mounted
    message.remove();
    run(state, "push", parse(message.getAttribute(MESSAGE), "message", host), state.instance);
  }

  function changed(host, attribute) {
    const state = mounted.get(host);
    if (attribute === WIDGET) {
      if (state !== undefined && state.name !== host.getAttribute(WIDGET)) unmount(host);
      if (host.hasAttribute(WIDGET)) mount(host);
      return;
    }
    if (state === undefined) return;
    const data = host.getAttribute(DATA);
    if (data === state.data) return;
    state.data = data;
    run(state, "update", parse(data, "data", host), state.instance);
  }

  function hostsIn(node) {
    const found = node.hasAttribute(WIDGET) ? [node] : [];
    for (const host of node.querySelectorAll(`[${WIDGET}]`)) found.push(host);
    return found;
  }

  function added(node) {
    if (node.hasAttribute(MESSAGE)) {
      deliver(node);
      return;
    }
    for (const host of hostsIn(node)) mount(host);
  }

  function removed(node) {
    const gone = hostsIn(node).filter((host) => mounted.has(host));
    if (gone.length === 0) return;
    // After this turn's mutations: a morph that moved a host put it back by then.
    queueMicrotask(() => {
      for (const host of gone) if (!host.isConnected) unmount(host);
    });
  }

  const observer = new MutationObserver((records) => {
    for (const record of records) {
      if (record.type === "attributes") {
        changed(record.target, record.attributeName);
        continue;
      }
      for (const node of record.removedNodes) if (node.nodeType === 1) removed(node);
      for (const node of record.addedNodes) if (node.nodeType === 1) added(node);
    }
  });
  observer.observe(document.documentElement, {
    childList: true,
    subtree: true,
    attributes: true,
    attributeFilter: [WIDGET, DATA],
  });

  function behaviour(name, impl) {
    if (typeof name !== "string" || name === "" || impl === null || typeof impl !== "object") {
      throw new TypeError(
        `parlour.behaviour(name, {mount, update, push, unmount}): expected a name and an ` +
          `object of callbacks, got ${typeof name} and ${impl === null ? "null" : typeof impl}`,
      );
    }
    behaviours.set(name, impl);
    for (const host of document.querySelectorAll(`[${WIDGET}]`)) {
      if (host.getAttribute(WIDGET) === name) mount(host);
    }
    return impl;
  }

  function instance(el) {
    const host = el && el.closest ? el.closest(`[${WIDGET}]`) : null;
    const state = host && mounted.get(host);
    return state ? state.instance : undefined;
  }

  window.parlour = Object.assign(window.parlour || {}, { behaviour, instance });

  // The stock toast (parlour.ui.toast): it leaves by itself after `ms`, waits while the
  // pointer or the keyboard is on it, and its close button sends it away at once.
  const LEAVING = "parlour-toast--leaving";
  function leave(el) {
    if (el.classList.contains(LEAVING)) return;
    el.classList.add(LEAVING);
    const motion = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    setTimeout(() => el.remove(), motion ? 200 : 0);
  }
  behaviour("parlour.toast", {
    mount(el, data) {
      const ms = data && Number.isFinite(data.ms) ? data.ms : 4000;
      const toast = { timer: 0 };
      const wait = () => clearTimeout(toast.timer);
      const go = () => {
        wait();
        toast.timer = setTimeout(() => leave(el), ms);
      };
      el.addEventListener("mouseenter", wait);
      el.addEventListener("focusin", wait);
      el.addEventListener("mouseleave", go);
      el.addEventListener("focusout", go);
      const close = el.querySelector(".parlour-toast-close");
      if (close) close.addEventListener("click", () => leave(el));
      go();
      return toast;
    },
    unmount(el, toast) {
      if (toast) clearTimeout(toast.timer);
    },
  });
})();
