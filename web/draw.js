// The input: strokes on a canvas (mouse, touch, pen), a test image, or a picture file, each
// prepared as MNIST's digits were (`prepareRgba`, what `lenet-gpu predict` does to a
// picture file), and the model's answer for it.
// Hooks for tests and scripts: [data-testid=draw], [data-testid=prediction] (its text starts
// with the digit), [data-testid=probabilities]; `window.lenetDraw` holds the last input and
// answer (`pending` while one is being computed).

import { latest, paintGrey } from "./explorer.js";

const INK = 18; // stroke width on the 280x280 canvas: MNIST's strokes are ~2 px of 28

export function drawPanel(explorer) {
  const { lenet } = explorer;
  const canvas = document.querySelector("[data-testid=draw]");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  const input = document.querySelector("#input");
  const caption = document.querySelector("#input-name");
  const prediction = document.querySelector("[data-testid=prediction]");
  const bars = [...document.querySelectorAll("[data-testid=probabilities] li")];
  const strokes = [];
  const state = (window.lenetDraw = { input: null, probabilities: null, class: null, pending: false });

  function paint() {
    context.clearRect(0, 0, canvas.width, canvas.height);
    context.lineWidth = INK;
    context.lineCap = context.lineJoin = "round";
    context.strokeStyle = "#111";
    for (const stroke of strokes) {
      context.beginPath();
      stroke.forEach(([x, y], i) => (i ? context.lineTo(x, y) : context.moveTo(x, y)));
      if (stroke.length === 1) context.lineTo(stroke[0][0] + 0.1, stroke[0][1]);
      context.stroke();
    }
    const { width, height } = canvas;
    const x = lenet.prepareRgba(width, height, new Uint8Array(context.getImageData(0, 0, width, height).data.buffer), "mnist");
    const blank = Math.max(...x) - Math.min(...x) < 0.1; // as lenet-gpu predict's "no digit"
    explorer.setInput(blank ? null : x, blank ? "" : "your drawing");
  }

  function bar(probabilities) {
    bars.forEach((li, c) => {
      const p = probabilities ? probabilities[c] : 0;
      li.querySelector("meter").value = p;
      li.querySelector("output").textContent = probabilities ? p.toFixed(3) : "";
    });
  }

  const classify = latest("predict", async () => {
    const { model, input: x } = explorer;
    state.input = x;
    paintGrey(input, x ?? new Float32Array(784), 28, 28, 0, 1); // white ink on black, as MNIST's digits
    caption.textContent = explorer.inputName || "nothing drawn yet";
    if (!x || !model) {
      Object.assign(state, { probabilities: null, class: null });
      prediction.textContent = model ? "draw a digit" : "no model yet";
      return bar(null);
    }
    const p = await model.predict(x);
    Object.assign(state, { probabilities: Array.from(p.probabilities), class: p.classes[0] });
    const truth = explorer.label === null ? "" : `, labelled ${explorer.label}`;
    prediction.textContent = `${p.classes[0]} (${(p.probabilities[p.classes[0]] * 100).toFixed(1)}%${truth})`;
    bar(p.probabilities);
  }, (e) => (prediction.textContent = `error: ${e.message ?? e}`));
  const refresh = () => {
    state.pending = true;
    classify().then(() => (state.pending = false));
  };
  explorer.addEventListener("input", refresh);
  explorer.addEventListener("model", refresh);

  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    return [((e.clientX - r.left) * canvas.width) / r.width, ((e.clientY - r.top) * canvas.height) / r.height];
  };
  canvas.addEventListener("pointerdown", (e) => {
    canvas.setPointerCapture(e.pointerId);
    if (explorer.inputName !== "your drawing") strokes.length = 0; // a new drawing
    strokes.push([at(e)]);
    paint();
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!canvas.hasPointerCapture(e.pointerId)) return;
    strokes[strokes.length - 1].push(at(e));
    paint();
  });
  document.querySelector("#clear").addEventListener("click", () => {
    strokes.length = 0;
    paint();
  });
  document.querySelector("#undo").addEventListener("click", () => {
    strokes.pop();
    paint();
  });

  // A test image by number.
  const index = document.querySelector("#test-index");
  async function showTest(i) {
    const test = await explorer.testSet();
    i = Math.max(0, Math.min(test.length - 1, Math.trunc(i) || 0));
    index.value = i;
    strokes.length = 0;
    context.clearRect(0, 0, canvas.width, canvas.height);
    const label = test.label(i);
    explorer.setInput(test.input(i), `test image #${i}`, label);
  }
  document.querySelector("#show-test").addEventListener("click", () => showTest(index.valueAsNumber));
  index.addEventListener("change", () => showTest(index.valueAsNumber));
  document.querySelector("#random-test").addEventListener("click", () => showTest(Math.random() * 10000));

  /** A PNG or JPEG file: drawn on a canvas at its size, prepared as MNIST's digits. */
  async function showPicture(file) {
    const bitmap = await createImageBitmap(file, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
    const scratch = new OffscreenCanvas(bitmap.width, bitmap.height);
    const c = scratch.getContext("2d");
    c.drawImage(bitmap, 0, 0);
    const rgba = new Uint8Array(c.getImageData(0, 0, bitmap.width, bitmap.height).data.buffer);
    strokes.length = 0;
    context.clearRect(0, 0, canvas.width, canvas.height);
    context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    explorer.setInput(lenet.prepareRgba(bitmap.width, bitmap.height, rgba, "mnist"), file.name);
  }

  paint();
  return { showTest, showPicture };
}
