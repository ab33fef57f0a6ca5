// The page's logic: draw on the canvas with pointer events (mouse, pen, finger), or pick a photo,
// send it to the API, show the answer and the top-3 confidences. No framework, no build step.
"use strict";

const pad = document.getElementById("pad");
const ctx = pad.getContext("2d");
const tokenInput = document.getElementById("token");
const answer = document.getElementById("answer");
const top3 = document.getElementById("top3");
const errorBox = document.getElementById("error");
const classifyButton = document.getElementById("classify");
const resultSection = document.getElementById("result-section");
const noteLine = document.getElementById("note");
let drawn = false;
let last = null;

// ---------------------------------------------------------------- the token (kept in this browser only)
tokenInput.value = localStorage.getItem("edgedigits-token") || "";
tokenInput.addEventListener("change", () => {
  localStorage.setItem("edgedigits-token", tokenInput.value.trim());
  showModel();
});

function authHeaders() {
  const token = tokenInput.value.trim();
  return token ? { "Authorization": "Bearer " + token } : {};
}

// ---------------------------------------------------------------- drawing
function clearPad() {
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, pad.width, pad.height);
  drawn = false;
}

function point(event) {
  const box = pad.getBoundingClientRect();
  return { x: (event.clientX - box.left) * pad.width / box.width, y: (event.clientY - box.top) * pad.height / box.height };
}

function stroke(from, to) {
  ctx.strokeStyle = "#fff";
  ctx.fillStyle = "#fff";
  ctx.lineWidth = pad.width / 14;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.beginPath();
  ctx.moveTo(from.x, from.y);
  ctx.lineTo(to.x, to.y);
  ctx.stroke();
  drawn = true;
}

pad.addEventListener("pointerdown", (event) => {
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);
  last = point(event);
  stroke(last, last);
});
pad.addEventListener("pointermove", (event) => {
  if (last === null) return;
  event.preventDefault();
  const here = point(event);
  stroke(last, here);
  last = here;
});
for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) {
  pad.addEventListener(type, () => { last = null; });
}

document.getElementById("clear").addEventListener("click", () => { clearPad(); showAnswer(null); });
classifyButton.addEventListener("click", () => {
  if (!drawn) { showError("draw a digit first"); reveal(); return; }
  pad.toBlob((blob) => send("v1/predict?top_k=3", blob, "image/png"), "image/png");
});

// ---------------------------------------------------------------- photos
// A phone's photo can be larger than the server takes (413: 48-200 MP modes make 15-30 MB files; the server
// may also cut such an upload short, which fetch sees as a network error): it is then sent once more,
// redrawn at SHRUNK_SIDE pixels on its long side (upright: the browser applies its EXIF turn).
const SHRUNK_SIDE = 2048;

function photoForm(blob, name) {
  const form = new FormData();
  form.append("image", blob, name);
  return form;
}

async function shrink(file) {
  const bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  const scale = Math.min(1, SHRUNK_SIDE / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
}

document.getElementById("photo").addEventListener("change", async (event) => {
  const file = event.target.files[0];
  if (!file) return;
  event.target.value = "";  // the same file again fires change again
  const mode = document.querySelector("input[name=mode]:checked").value;
  const url = mode === "read" ? "v1/read" : "v1/predict?top_k=3";
  const status = await send(url, photoForm(file, file.name), null, false);
  if (status !== 413 && status !== 0) return;
  const smaller = await shrink(file).catch(() => null);
  const note = "the photo (" + (file.size / 1e6).toFixed(1) + " MB) was over the server's limit: sent at " +
    SHRUNK_SIDE + " px";
  await send(url, smaller && photoForm(smaller, file.name), null, true, note);
});

// ---------------------------------------------------------------- talking to the API
// Every URL is relative to the page: behind a reverse proxy at a path (https://host/digits/) it still works.
// POST body to url and show the answer; returns the HTTP status (0: no answer). With last=false a 413 or
// no answer is kept quiet (the caller sends a smaller photo; a null body then shows what was kept).
let keptError = null;

async function send(url, body, type, last = true, note = "") {
  if (body === null) {  // nothing smaller to send: show the error kept back
    finish(() => showError(keptError || "the photo is too large"));
    return 0;
  }
  showAnswer(null);
  answer.textContent = "…";
  classifyButton.disabled = true;
  let status = 0;
  try {
    const headers = authHeaders();
    if (type) headers["Content-Type"] = type;  // multipart sets its own, with the boundary
    const response = await fetch(url, { method: "POST", headers, body });
    status = response.status;
    const data = await response.json().catch(() => ({ error: "the server sent no JSON (HTTP " + response.status + ")" }));
    if (status === 413 && !last) {
      keptError = data.error || "HTTP 413";
      return status;
    }
    finish(() => {
      if (!response.ok) {
        showError(data.error || ("HTTP " + response.status));
      } else if ("number" in data) {
        showReading(data);
      } else {
        showPrediction(data);
      }
      noteLine.textContent = note;
      noteLine.hidden = !note;
    });
  } catch (err) {
    if (!last) {
      keptError = "cannot reach the server: " + err.message;
      return 0;
    }
    finish(() => showError("cannot reach the server: " + err.message));
  } finally {
    classifyButton.disabled = false;
  }
  return status;
}

function finish(show) {
  show();
  reveal();
  document.body.dataset.answers = String(Number(document.body.dataset.answers || 0) + 1);  // for tests
}

// On a phone the answer is below the photo button, out of sight: bring it (and any error) into view.
function reveal() {
  resultSection.scrollIntoView({ block: "nearest" });
}

function showAnswer(text) {
  answer.textContent = text === null ? "–" : text;
  answer.dataset.label = text === null ? "" : text;
  top3.replaceChildren();
  errorBox.hidden = true;
  errorBox.textContent = "";
  noteLine.hidden = true;
}

function showError(message) {
  showAnswer(null);
  errorBox.textContent = message;
  errorBox.hidden = false;
}

function row(label, probability) {
  const li = document.createElement("li");
  li.className = "candidate";
  li.dataset.label = String(label);
  li.dataset.probability = String(probability);
  li.append(String(label) + ": " + (100 * probability).toFixed(1) + "%");
  const bar = document.createElement("span");
  bar.className = "bar";
  bar.style.width = Math.max(2, Math.round(160 * probability)) + "px";
  li.append(bar);
  return li;
}

function showPrediction(data) {
  const notADigit = data.not_a_digit === true || data.label === null;
  showAnswer(notADigit ? "not a digit" : String(data.label));
  for (const [label, probability] of (data.top_k || []).slice(0, 3)) top3.append(row(label, probability));
}

function showReading(data) {
  showAnswer(data.number === "" ? "no digits found" : data.number);
  for (const digit of data.digits || []) {
    const li = document.createElement("li");
    li.className = "digit";
    const shown = digit.not_a_digit || digit.label === null ? "?" : digit.label;
    li.textContent = shown + " (" + (100 * (digit.confidence || 0)).toFixed(1) + "%)";
    top3.append(li);
  }
}

// ---------------------------------------------------------------- the model's details
async function showModel() {
  const line = document.getElementById("model");
  try {
    const response = await fetch("v1/model", { headers: authHeaders() });
    const data = await response.json();
    if (response.status === 401) {
      line.textContent = "this server needs a token: paste it in the field below";
    } else if (!response.ok) {
      line.textContent = data.error || ("HTTP " + response.status);
    } else {
      line.textContent = "model " + data.path + " (" + data.format + ", " + data.backend + ", " +
        (data.verified ? "verified" : "unverified") + ")";
    }
  } catch (err) {
    line.textContent = "cannot reach the server: " + err.message;
  }
}

clearPad();
showModel();
