// The parlour inspector's page side (dev mode only; parlour.devtools).
//
// Everything the panel shows is rendered on the server and patched in by Datastar over the
// panel's own stream; this script only
//   * opens and closes the panel: the "Inspect" button, or Alt+Shift+D (the browser keeps
//     Ctrl+Shift+I and F12 for its own tools); the choice survives a reload of the tab;
//   * outlines on the page the component under the pointer in the panel's tree (the past
//     page's copy while looking at a past step).
const OPEN_CLASS = "parlour-inspecting";
const KEY = "parlour-inspector-open";

const toggle = document.getElementById("parlour-inspector-toggle");
const inspector = document.getElementById("parlour-inspector");
const outline = document.getElementById("parlour-inspector-outline");

function setOpen(open) {
  document.documentElement.classList.toggle(OPEN_CLASS, open);
  if (toggle) toggle.setAttribute("aria-expanded", String(open));
  try {
    sessionStorage.setItem(KEY, open ? "1" : "");
  } catch {
    // storage may be disabled: the panel just starts closed after a reload
  }
}

function isOpen() {
  return document.documentElement.classList.contains(OPEN_CLASS);
}

if (toggle) toggle.addEventListener("click", () => setOpen(!isOpen()));

window.addEventListener("keydown", (event) => {
  if (event.altKey && event.shiftKey && !event.ctrlKey && !event.metaKey && event.code === "KeyD") {
    event.preventDefault();
    setOpen(!isOpen());
  }
});

try {
  if (sessionStorage.getItem(KEY)) setOpen(true);
} catch {
  // ignore: see setOpen
}

function target(iid) {
  const past = document.querySelector("#parlour-inspector-travel .pi-past");
  if (past) return past.querySelector(`[data-parlour-past-id="${CSS.escape(iid)}"]`);
  return document.getElementById(iid);
}

function show(iid, label) {
  const element = target(iid);
  if (!element || !outline) return hide();
  const box = element.getBoundingClientRect();
  outline.style.top = `${box.top}px`;
  outline.style.left = `${box.left}px`;
  outline.style.width = `${box.width}px`;
  outline.style.height = `${box.height}px`;
  outline.dataset.label = label;
  outline.classList.add("pi-shown");
}

function hide() {
  if (outline) outline.classList.remove("pi-shown");
}

if (inspector) {
  inspector.addEventListener("mouseover", (event) => {
    const node = event.target instanceof Element ? event.target.closest("[data-parlour-iid]") : null;
    if (!node) return hide();
    const type = node.querySelector(".pi-type");
    show(node.dataset.parlourIid, `${type ? type.textContent : ""} ${node.dataset.parlourIid}`);
  });
  inspector.addEventListener("mouseleave", hide);
}
window.addEventListener("scroll", hide, { passive: true });
