"use strict";
// The page of `scratchcnn serve`: it asks /api/model what input the model takes, offers a canvas (digit models),
// an upload (image models) or a text box (array models), sends the raw input to /api/activations (the server
// preprocesses it) and shows the class probabilities, the input as the network sees it and the feature maps.

const THROTTLE_MS = 150;  // while a stroke goes on, at most one request per this many milliseconds
const sender = {busy: false, timer: null, next: null, lastSent: -Infinity};

const $ = (id) => document.getElementById(id);

async function start() {
  try {
    const response = await fetch("/api/model");
    const model = await response.json();
    if (!response.ok) throw new Error(model.error || response.statusText);
    describeModel(model);
  } catch (error) {
    showError(`Could not load the model: ${error.message}`);
  }
}

function describeModel(model) {
  const shape = model.input_shape.join("\u00d7");
  $("model-summary").textContent = `${model.layers.length} layers, input ${shape}, classes: ` +
    model.class_names.join(", ");
  if (model.input_kind === "digit") setUpCanvas();
  else if (model.input_kind === "image") setUpUpload();
  else setUpArray(model.input_shape);
}

// -- sending: one request in flight; while it runs only the newest input waits (older ones are dropped) ----------
function send(makeBody) {
  sender.next = makeBody;
  pump();
}

function pump() {
  if (sender.busy || sender.timer || !sender.next) return;
  const wait = sender.lastSent + THROTTLE_MS - performance.now();
  if (wait > 0) {
    sender.timer = setTimeout(() => { sender.timer = null; pump(); }, wait);
    return;
  }
  const makeBody = sender.next;
  sender.next = null;
  sender.busy = true;
  sender.lastSent = performance.now();
  post(makeBody).finally(() => { sender.busy = false; pump(); });
}

async function post(makeBody) {
  try {
    const {body, headers} = await makeBody();
    const response = await fetch("/api/activations", {method: "POST", body, headers});
    const data = await response.json();
    if (!response.ok) throw new Error(data.error || response.statusText);
    hideError();
    render(data);
  } catch (error) {
    showError(error.message);
  }
}

function formWith(blob, name) {
  const form = new FormData();
  form.append("file", blob, name);
  return {body: form};
}

// -- the three kinds of input ---------------------------------------------------------------------------------
function setUpCanvas() {
  $("digit-input").hidden = false;
  const canvas = $("canvas");
  const context = canvas.getContext("2d");
  let last = null;  // the stroke's previous point, null between strokes
  let inked = false;
  const clear = () => {
    context.fillStyle = "#000";
    context.fillRect(0, 0, canvas.width, canvas.height);
    inked = false;
    clearResults();
  };
  const at = (event) => {
    const box = canvas.getBoundingClientRect();
    return [(event.clientX - box.left) * canvas.width / box.width, (event.clientY - box.top) * canvas.height / box.height];
  };
  const drawTo = (point) => {
    // White ink on black, as MNIST's digits; about 2 px wide once the server scales the digit to 20x20.
    context.strokeStyle = "#fff";
    context.lineWidth = 20;
    context.lineCap = context.lineJoin = "round";
    context.beginPath();
    context.moveTo(...(last || point));
    context.lineTo(...point);
    context.stroke();
    last = point;
    inked = true;
  };
  const sendDrawing = () => {
    if (inked) send(() => new Promise((resolve) => canvas.toBlob((blob) => resolve(formWith(blob, "digit.png")), "image/png")));
  };
  canvas.addEventListener("pointerdown", (event) => {
    canvas.setPointerCapture(event.pointerId);
    last = null;
    drawTo(at(event));
    sendDrawing();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (last === null) return;
    drawTo(at(event));
    sendDrawing();
  });
  for (const type of ["pointerup", "pointercancel"]) {
    canvas.addEventListener(type, () => { if (last !== null) { last = null; sendDrawing(); } });
  }
  $("clear").addEventListener("click", clear);
  clear();
}

function setUpUpload() {
  $("image-input").hidden = false;
  const zone = $("drop-zone");
  const take = (file) => {
    if (!file) return;
    const preview = $("preview");
    preview.src = URL.createObjectURL(file);
    preview.hidden = false;
    send(async () => formWith(file, file.name || "image"));
  };
  $("file").addEventListener("change", (event) => take(event.target.files[0]));
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    take(event.dataTransfer.files[0]);
  });
}

function setUpArray(shape) {
  $("array-input").hidden = false;
  $("array-hint").textContent = `A JSON array of shape [${shape.join(", ")}]`;
  const zeros = (dims) => (dims.length ? Array.from({length: dims[0]}, () => zeros(dims.slice(1))) : 0);
  $("array").value = JSON.stringify(zeros(shape));
  $("send-array").addEventListener("click", () => {
    let input;
    try {
      input = JSON.parse($("array").value);
    } catch (error) {
      showError(`Not valid JSON: ${error.message}`);
      return;
    }
    send(async () => ({body: JSON.stringify({input}), headers: {"Content-Type": "application/json"}}));
  });
}

// -- showing the answer -----------------------------------------------------------------------------------------
function render(data) {
  const {prediction} = data;
  $("predicted-class").textContent = prediction.class;
  renderBars(prediction);
  const seen = $("seen-input");
  if (data.input.image) {
    seen.src = data.input.image;
    seen.hidden = false;
    $("seen-hint").textContent = `${data.input.shape.join("\u00d7")}, values in [0, 1]`;
  }
  renderMaps(data.layers);
}

function renderBars(prediction) {
  const bars = $("bars");
  const entries = Object.entries(prediction.probabilities);
  if (bars.children.length !== entries.length) {
    bars.replaceChildren(...entries.map(([name]) => {
      const row = document.createElement("div");
      row.className = "bar-row";
      row.innerHTML = '<span class="bar-label"></span><span class="bar-track"><span class="bar"></span></span>' +
        '<span class="bar-value"></span>';
      row.querySelector(".bar-label").textContent = name;
      return row;
    }));
  }
  entries.forEach(([name, p], i) => {
    const row = bars.children[i];
    row.classList.toggle("top", name === prediction.class);
    row.querySelector(".bar").style.width = `${(100 * p).toFixed(1)}%`;
    row.querySelector(".bar-value").textContent = p.toFixed(3);
  });
}

function renderMaps(layers) {
  const holder = $("feature-maps");
  if (holder.children.length !== layers.length) {
    holder.replaceChildren(...layers.map(() => {
      const figure = document.createElement("figure");
      figure.innerHTML = '<img class="feature-map pixelated" alt=""><figcaption></figcaption>';
      return figure;
    }));
  }
  layers.forEach((layer, i) => {
    const figure = holder.children[i];
    const image = figure.querySelector("img");
    image.src = layer.image;
    image.alt = `feature maps of layer ${layer.index}`;
    figure.querySelector("figcaption").textContent = `${layer.index}: ${layer.name} ${layer.shape.join("\u00d7")}`;
  });
}

function clearResults() {
  $("predicted-class").textContent = "\u2013";
  $("bars").replaceChildren();
  $("feature-maps").replaceChildren();
  $("seen-input").hidden = true;
  $("seen-hint").textContent = "Nothing sent yet.";
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
}

function hideError() {
  $("error").hidden = true;
}

start();
