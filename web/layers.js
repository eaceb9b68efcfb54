// Every layer: the feature maps of the current input, laid out as the network runs them
// (as `lenet-gpu visualize features` draws them). Hover a unit: its value, and its
// receptive field outlined on the input. Click a map: a large view with the kernels that
// made it. Below: the model diagram and summary table.

import { canvas, latest, maxAbs, paintDiverging, paintGrey, range } from "./explorer.js";

export function layersPanel(explorer) {
  const { lenet } = explorer;
  const maps = document.querySelector("#maps");
  const unit = document.querySelector("#unit");
  const field = document.querySelector("#field");
  const dialog = document.querySelector("#map-view");
  let shown = null; // the feature maps drawn
  let arch = null; // of the model that made them

  /** The input with the receptive field of the hovered unit outlined ([t, l, b, r)). */
  function outline(box) {
    if (!explorer.input) return;
    paintGrey(field, explorer.input, 28, 28, 0, 1);
    if (!box) return;
    const c = field.getContext("2d");
    const [t, l, b, r] = box;
    c.fillStyle = "rgba(255, 170, 0, 0.35)";
    c.fillRect(l, t, r - l, b - t);
    c.strokeStyle = "#ffaa00";
    c.lineWidth = 1;
    c.strokeRect(l + 0.5, t + 0.5, r - l - 1, b - t - 1);
  }

  const refresh = latest("featureMaps", async () => {
    const { model, input } = explorer;
    if (!model || !input) {
      shown = null;
      maps.replaceChildren();
      field.getContext("2d").clearRect(0, 0, field.width, field.height);
      document.querySelector("#layers-for").textContent = "the input (none yet)";
      return;
    }
    const fm = await model.featureMaps(input);
    arch = model.arch;
    shown = Array.from({ length: fm.length }, (_, i) => ({ name: fm.name(i), dims: fm.dims(i), values: fm.values(i) }));
    fm.free();
    draw();
    outline(null);
    document.querySelector("#layers-for").textContent = explorer.inputName || "the drawing";
  }, (e) => (unit.textContent = `error: ${e.message ?? e}`));
  explorer.addEventListener("input", refresh);
  explorer.addEventListener("model", refresh);

  function draw() {
    maps.replaceChildren();
    for (const map of shown) {
      const [c, h, w] = map.dims;
      const [lo, hi] = range(map.values);
      const row = document.createElement("div");
      row.className = "layer";
      row.dataset.tap = map.name;
      const title = document.createElement("h3");
      title.textContent = h > 1 ? `${map.name} ${c}@${h}x${w}` : `${map.name} (${c})`;
      row.append(title);
      const strip = document.createElement("div");
      strip.className = "channels";
      for (let ch = 0; ch < (h > 1 ? c : 1); ch++) {
        // A map per channel; a layer of units as one strip.
        const [mh, mw] = h > 1 ? [h, w] : [1, c];
        const values = map.values.subarray(ch * mh * mw, (ch + 1) * mh * mw);
        const button = document.createElement("button");
        button.type = "button";
        button.className = h > 1 ? "map" : "map units";
        button.setAttribute("aria-label", `${map.name}, channel ${ch}: open a large view`);
        const picture = canvas();
        paintGrey(picture, values, mh, mw, Math.min(lo, 0), hi);
        button.append(picture);
        picture.addEventListener("mousemove", (e) => hover(e, map, ch, mh, mw));
        picture.addEventListener("mouseleave", () => outline(null));
        button.addEventListener("click", () => open(map, ch));
        strip.append(button);
      }
      row.append(strip);
      maps.append(row);
    }
  }

  function hover(e, map, ch, h, w) {
    const r = e.target.getBoundingClientRect();
    const x = Math.min(w - 1, Math.floor(((e.clientX - r.left) / r.width) * w));
    const y = Math.min(h - 1, Math.floor(((e.clientY - r.top) / r.height) * h));
    const units = map.dims[1] === 1;
    const value = map.values[units ? x : (ch * h + y) * w + x];
    const box = lenet.receptiveField(arch, map.name, units ? 0 : y, units ? 0 : x);
    const where = units ? `unit ${x}` : `channel ${ch}, (${y}, ${x})`;
    unit.textContent = `${map.name} ${where}: ${value.toPrecision(4)}; sees input rows ${box[0]}–${box[2] - 1}, columns ${box[1]}–${box[3] - 1}`;
    outline(box);
  }

  /** The large view of one map and, for a convolution's, the kernels that made it. */
  async function open(map, ch) {
    const [c, h, w] = map.dims;
    const units = h === 1;
    const [mh, mw] = units ? [1, c] : [h, w];
    const values = map.values.subarray(units ? 0 : ch * h * w, units ? c : (ch + 1) * h * w);
    dialog.querySelector("h3").textContent = units ? `${map.name}: ${c} units` : `${map.name}, channel ${ch} (${h}x${w})`;
    const [lo, hi] = range(values);
    paintGrey(dialog.querySelector(".large"), values, mh, mw, Math.min(lo, 0), hi);
    dialog.querySelector(".range").textContent = `values ${lo.toPrecision(3)} to ${hi.toPrecision(3)} (black: ${Math.min(lo, 0).toPrecision(3)}, white: ${hi.toPrecision(3)})`;
    const kernels = dialog.querySelector(".kernels");
    kernels.replaceChildren();
    dialog.showModal();
    const all = await explorer.model.convKernels();
    const conv = all.find((k) => k.name.toLowerCase() === map.name.toLowerCase());
    if (!conv || units) {
      kernels.textContent = units ? "" : "Made by the layer before it without a kernel (pooling, subsampling or the input).";
      return;
    }
    const [, inputs, k] = conv.shape;
    const weights = conv.weights.subarray(ch * inputs * k * k, (ch + 1) * inputs * k * k);
    const limit = maxAbs(weights);
    const note = document.createElement("p");
    note.textContent = `Made by ${conv.name}'s kernel ${ch}: ${inputs} of ${k}x${k} over the channels before it (red positive, blue negative, up to ±${limit.toPrecision(3)}).`;
    kernels.append(note);
    for (let i = 0; i < inputs; i++) {
      if (conv.connected && !conv.connected[ch * inputs + i]) continue; // LeNet-1998's C3 table
      const figure = document.createElement("figure");
      const picture = canvas("kernel");
      paintDiverging(picture, weights.subarray(i * k * k, (i + 1) * k * k), k, k, limit);
      const label = document.createElement("figcaption");
      label.textContent = `input channel ${i}`;
      figure.append(picture, label);
      kernels.append(figure);
    }
    all.forEach((x) => x.free());
  }
  dialog.querySelector("button").addEventListener("click", () => dialog.close());

  // The diagram and summary of the model's network.
  let described = null;
  explorer.addEventListener("model", () => {
    const { model } = explorer;
    if (!model || model.arch === described) return;
    described = model.arch;
    document.querySelector("#diagram").innerHTML = model.diagram(); // our own SVG, no user text
    document.querySelector("#summary").textContent = model.summary();
  });
}
