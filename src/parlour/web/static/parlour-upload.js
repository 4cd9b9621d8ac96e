// parlour's file inputs (parlour.ui.file_input): send the chosen files with upload progress.
//
// A module, so the page evaluates it once however many inputs load it. One listener on the
// document serves every input, also those a later patch adds. For an input carrying
// data-parlour-upload="URL", the chosen files go to URL as one multipart POST
// (XMLHttpRequest: fetch cannot report upload progress, nor can Datastar's @post). The
// input's progress list (data-parlour-progress="ID", morph-ignored) shows a bar per file and
// a Cancel button, which aborts the request: the server then delivers nothing and deletes
// what had arrived. When the upload ends the list is emptied (the component's own render
// shows the files) or, for a refusal the component does not show itself
// (data-parlour-upload-errors="page"), it shows the server's sentence.

const SELECTOR = "input[type=file][data-parlour-upload]";

document.addEventListener("change", (event) => {
  const input = event.target;
  if (!(input instanceof HTMLInputElement) || !input.matches(SELECTOR)) return;
  const files = Array.from(input.files || []);
  if (files.length > 0) send(input, files);
});

function element(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

function send(input, files) {
  const list = document.getElementById(input.dataset.parlourProgress || "");
  const bars = [];
  const form = new FormData();
  for (const file of files) form.append(input.name || "files", file, file.name);

  const request = new XMLHttpRequest();
  let status = null;
  if (list) {
    list.replaceChildren();
    for (const file of files) {
      const row = element("li", "parlour-upload-file");
      const bar = element("progress", "parlour-upload-bar");
      bar.max = 100;
      bar.value = 0;
      bar.setAttribute("aria-label", file.name);
      row.append(element("span", "parlour-upload-name", file.name + " "), bar);
      list.append(row);
      bars.push(bar);
    }
    const actions = element("li", "parlour-upload-actions");
    status = element("span", "parlour-upload-status", "Uploading… ");
    const cancel = element("button", "parlour-button parlour-upload-cancel", "Cancel");
    cancel.type = "button";
    cancel.addEventListener("click", () => request.abort());
    actions.append(status, cancel);
    list.append(actions);
  }

  // The body carries the files in order: spread the bytes sent over them by their sizes.
  const sizes = files.map((file) => file.size);
  const totalSize = sizes.reduce((a, b) => a + b, 0);
  const show = (fraction) => {
    let position = fraction * totalSize;
    sizes.forEach((size, i) => {
      const done = size === 0 ? 1 : Math.min(Math.max(position / size, 0), 1);
      if (bars[i]) bars[i].value = Math.round(done * 1000) / 10;
      position -= size;
    });
  };

  const finish = (message) => {
    input.disabled = false;
    if (!list) return;
    if (message === null) list.replaceChildren();
    else list.replaceChildren(element("li", "parlour-upload-error", message));
  };

  request.upload.addEventListener("progress", (e) => {
    if (e.lengthComputable && e.total > 0) show(Math.min(e.loaded / e.total, 0.999));
  });
  request.addEventListener("load", () => {
    if (request.status >= 200 && request.status < 300) {
      show(1);
      finish(null);
    } else if (input.dataset.parlourUploadErrors === "component") {
      finish(null); // the component shows the refusal itself
    } else {
      finish((request.responseText || `upload refused (${request.status})`).trim());
    }
  });
  request.addEventListener("error", () => finish("the upload failed: the connection was lost"));
  request.addEventListener("abort", () => finish("upload cancelled"));

  request.open("POST", input.dataset.parlourUpload);
  request.send(form);
  input.value = ""; // choosing the same file again is a new upload
  input.disabled = true;
}
