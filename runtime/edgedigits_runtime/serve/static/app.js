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
  pad.toBlob((blob) => send("/v1/predict?top_k=3", blob, "image/png"), "image/png");
});

// ---------------------------------------------------------------- photos
document.getElementById("photo").addEventListener("change", (event) => {
  const file = event.target.files[0];
  if (!file) return;
  const mode = document.querySelector("input[name=mode]:checked").value;
  const form = new FormData();
  form.append("image", file, file.name);
  send(mode === "read" ? "/v1/read" : "/v1/predict?top_k=3", form, null);
  event.target.value = "";  // the same file again fires change again
});

// ---------------------------------------------------------------- talking to the API
async function send(url, body, type) {
  showAnswer(null);
  answer.textContent = "…";
  classifyButton.disabled = true;
  try {
    const headers = authHeaders();
    if (type) headers["Content-Type"] = type;  // multipart sets its own, with the boundary
    const response = await fetch(url, { method: "POST", headers, body });
    const data = await response.json().catch(() => ({ error: "the server sent no JSON (HTTP " + response.status + ")" }));
    if (!response.ok) {
      showError(data.error || ("HTTP " + response.status));
    } else if ("number" in data) {
      showReading(data);
    } else {
      showPrediction(data);
    }
  } catch (err) {
    showError("cannot reach the server: " + err.message);
  } finally {
    reveal();
    classifyButton.disabled = false;
    document.body.dataset.answers = String(Number(document.body.dataset.answers || 0) + 1);  // for tests
  }
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
    const response = await fetch("/v1/model", { headers: authHeaders() });
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
