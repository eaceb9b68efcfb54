// The explorer page: opens the GPU, loads the model `lenet-gpu serve --model` preloaded (if
// any), and wires the panels: input (draw.js), every layer (layers.js), why (why.js),
// train (train.js), and the model bar (open, drop, download). `document.body.dataset.ready`
// is "true" once it is all set up.
import { ready } from "./lenet.js";
import { download, Explorer } from "./explorer.js";
import { drawPanel } from "./draw.js";
import { layersPanel } from "./layers.js";
import { whyPanel } from "./why.js";
import { trainPanel } from "./train.js";

const status = document.querySelector("#status");

function say(text, state = "") {
  status.textContent = text;
  status.className = state;
}

/** A `.safetensors` file (from `lenet-gpu train` or PyTorch) as the explored model. */
async function openModel(explorer, file) {
  const model = explorer.lenet.Model.fromSafetensors(explorer.lab, new Uint8Array(await file.arrayBuffer()));
  explorer.setModel(model, `${file.name} (${model.arch})`);
  say(`Opened ${file.name}: ${model.arch}.`, "loaded");
}

function modelBar(explorer, input) {
  const file = document.querySelector("#model-file");
  const picture = document.querySelector("#picture-file");
  const failed = (e) => say(String(e.message ?? e), "failed");
  file.addEventListener("change", () => file.files[0] && openModel(explorer, file.files[0]).catch(failed));
  picture.addEventListener("change", () => picture.files[0] && input.showPicture(picture.files[0]).catch(failed));
  // Drop a model or a picture anywhere on the page.
  document.addEventListener("dragover", (e) => e.preventDefault());
  document.addEventListener("drop", (e) => {
    e.preventDefault();
    const dropped = e.dataTransfer.files[0];
    if (!dropped) return;
    const open = /\.safetensors$/i.test(dropped.name) ? openModel(explorer, dropped) : input.showPicture(dropped);
    open.catch(failed);
  });
  const stem = () => (explorer.model.arch === "lenet1998" ? "lenet1998" : "lenet5");
  document.querySelector("#save-safetensors").addEventListener("click", async () => {
    if (explorer.model) download(await explorer.model.safetensors(), `${stem()}.safetensors`);
  });
  document.querySelector("#save-onnx").addEventListener("click", async () => {
    if (explorer.model) download(await explorer.model.onnx(), `${stem()}.onnx`);
  });
}

async function start() {
  if (!navigator.gpu) {
    throw new Error(
      "This browser has no WebGPU, which the page needs. It is in Chrome and Edge 113 and later, " +
        "Safari 26 and Firefox 141 on Windows; elsewhere it may be behind a flag.",
    );
  }
  const lenet = await ready;
  const t = performance.now();
  const lab = (window.lenetLab = await lenet.Lab.open());
  const explorer = (window.lenetExplorer = new Explorer(lenet, lab));
  const input = drawPanel(explorer);
  layersPanel(explorer);
  whyPanel(explorer, input.showTest);
  trainPanel(explorer);
  modelBar(explorer, input);
  document.querySelector("#adapter").textContent = `${lab.adapter()} (opened in ${(performance.now() - t).toFixed(0)} ms)`;
  // `lenet-gpu serve --model FILE` serves the model it was given here.
  const response = await fetch("../model.safetensors");
  if (response.ok) {
    const model = lenet.Model.fromSafetensors(lab, new Uint8Array(await response.arrayBuffer()));
    explorer.setModel(model, `the served model (${model.arch})`);
    say("Draw a digit, or pick a test image.", "loaded");
  } else {
    say("No model yet: train one below (Train), or open a .safetensors file from lenet-gpu train or PyTorch.", "loaded");
  }
  document.body.dataset.ready = "true";
}

start().catch((e) => {
  say(`Failed: ${e.message ?? e}`, "failed");
  console.error(e);
});
