// A behaviour that writes down each call it gets (tests/e2e/test_widgets.py reads the log).
window.widgetCalls = [];
parlour.behaviour("recorder", {
  mount(view, data) {
    window.widgetCalls.push(["mount", data]);
    view.textContent = `mounted with ${data.value}`;
    return { mountedAt: window.widgetCalls.length };
  },
  update(view, data, instance) {
    window.widgetCalls.push(["update", data, instance.mountedAt]);
  },
  push(view, message, instance) {
    window.widgetCalls.push(["push", message, instance.mountedAt]);
  },
  unmount(view, instance) {
    window.widgetCalls.push(["unmount", null, instance.mountedAt]);
  },
});
