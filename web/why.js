// Why: which pixels made the model's answer (Integrated Gradients, SmoothGrad, Grad-CAM,
// as `lenet-gpu visualize saliency | gradcam` compute them), the model's mistakes and
// confusion matrix on the test set (each clickable into the explorer), and the pictures
// each class likes best (gradient ascent, `lenet-gpu visualize classes`).

import { canvas, diverging, latest, maxAbs, paintGrey } from "./explorer.js";

const SIDE = 28;
const SCALE = 10; // the overlay is drawn at 280x280

export function whyPanel(explorer, showTest) {
  const method = document.querySelector("#why-method");
  const target = document.querySelector("#why-class");
  const overlay = document.querySelector("#why-overlay");
  const legend = document.querySelector("#why-legend");
  const caption = document.querySelector("#why-caption");
  window.lenetWhy = { map: null, class: null, method: null, pending: false };

  const explain = latest("why", async () => {
    const { model, input } = explorer;
    if (!model || !input) {
      overlay.getContext("2d").clearRect(0, 0, overlay.width, overlay.height);
      caption.textContent = model ? "" : "no model yet";
      return Object.assign(window.lenetWhy, { map: null, class: null, method: null });
    }
    const chosen = target.value === "predicted" ? (await model.predict(input)).classes[0] : Number(target.value);
    const m = method.value;
    const a =
      m === "grad-cam" ? await model.gradCam(input, chosen, "conv2", false) : await model.saliency(input, chosen, m);
    const map = Array.from(a.map);
    const score = a.score;
    const delta = a.outputDelta;
    a.free();
    draw(input, map, m === "grad-cam");
    const sum = map.reduce((s, v) => s + v, 0);
    const names = { "integrated-gradients": "Integrated Gradients", smoothgrad: "SmoothGrad", "grad-cam": "Grad-CAM (conv2)" };
    caption.textContent =
      `${names[m]} of class ${chosen} (score ${score.toFixed(3)})` +
      (delta === undefined ? "" : `; the map sums to ${sum.toFixed(3)}, the score's rise from a black picture is ${delta.toFixed(3)}`);
    Object.assign(window.lenetWhy, { map, class: chosen, method: m });
  }, (e) => (caption.textContent = `error: ${e.message ?? e}`));
  const refresh = () => {
    window.lenetWhy.pending = true;
    explain().then(() => (window.lenetWhy.pending = false));
  };
  for (const source of [method, target]) source.addEventListener("change", refresh);
  explorer.addEventListener("input", refresh);
  explorer.addEventListener("model", refresh);

  /** The input in grey with the map over it: red raises the class's score, blue lowers
   * it (Grad-CAM is never negative); the legend gives the scale. */
  function draw(input, map, positiveOnly) {
    const limit = maxAbs(map) || 1;
    const c = overlay.getContext("2d");
    const pixels = c.createImageData(SIDE, SIDE);
    for (let i = 0; i < SIDE * SIDE; i++) {
      const grey = 255 - Math.round(input[i] * 160); // ink dark on light, to see the colours on
      const [r, g, b] = diverging(map[i], limit);
      const a = Math.min(1, Math.abs(map[i]) / limit);
      pixels.data.set([grey * (1 - a) + r * a, grey * (1 - a) + g * a, grey * (1 - a) + b * a, 255], i * 4);
    }
    const small = new OffscreenCanvas(SIDE, SIDE);
    small.getContext("2d").putImageData(pixels, 0, 0);
    c.imageSmoothingEnabled = false;
    c.drawImage(small, 0, 0, SIDE * SCALE, SIDE * SCALE);
    const l = legend.getContext("2d");
    const from = positiveOnly ? 0 : -limit;
    for (let x = 0; x < legend.width; x++) {
      const [r, g, b] = diverging(from + ((limit - from) * x) / (legend.width - 1), limit);
      l.fillStyle = `rgb(${r},${g},${b})`;
      l.fillRect(x, 0, 1, legend.height);
    }
    document.querySelector("#why-low").textContent = from.toPrecision(2);
    document.querySelector("#why-high").textContent = `+${limit.toPrecision(2)}`;
  }

  // The test set: the confusion matrix and the most confident mistakes.
  const confusion = document.querySelector("#confusion");
  const gallery = document.querySelector("#gallery");
  const galleryTitle = document.querySelector("#gallery-title");
  let scored = null; // { classes, confidence, labels }

  /** Buttons with the test images `indices`, each opening that image in the explorer. */
  async function fill(indices, title) {
    const test = await explorer.testSet();
    galleryTitle.textContent = title;
    gallery.replaceChildren(
      ...indices.map((i) => {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "thumb";
        const text = `#${i}: ${scored.labels[i]}→${scored.classes[i]} (${(scored.confidence[i] * 100).toFixed(0)}%)`;
        button.setAttribute("aria-label", `test image ${text}; show it`);
        button.title = text;
        const picture = canvas();
        paintGrey(picture, test.input(i), SIDE, SIDE, 0, 1);
        const label = document.createElement("span");
        label.textContent = `${scored.labels[i]}→${scored.classes[i]}`;
        button.append(picture, label);
        button.addEventListener("click", () => showTest(i));
        return button;
      }),
    );
  }

  document.querySelector("#score-test").addEventListener("click", async (e) => {
    const button = e.target;
    const status = document.querySelector("#score-status");
    button.disabled = true;
    status.textContent = "scoring the 10,000 test images…";
    try {
      const test = await explorer.testSet();
      const t = performance.now();
      const p = await explorer.model.predictImages(test);
      const classes = Array.from(p.classes);
      const probabilities = p.probabilities;
      const confidence = classes.map((c, i) => probabilities[i * 10 + c]);
      p.free();
      scored = { classes, confidence, labels: Array.from(test.labels) };
      const matrix = Array.from({ length: 10 }, () => Array(10).fill(0));
      classes.forEach((c, i) => matrix[scored.labels[i]][c]++);
      const right = classes.filter((c, i) => c === scored.labels[i]).length;
      status.textContent = `${right} of ${classes.length} right (${((right / classes.length) * 100).toFixed(2)}%), in ${((performance.now() - t) / 1000).toFixed(1)} s`;
      drawConfusion(matrix);
      const wrong = classes.map((_, i) => i).filter((i) => classes[i] !== scored.labels[i]);
      wrong.sort((a, b) => confidence[b] - confidence[a]);
      await fill(wrong.slice(0, 40), `The ${Math.min(40, wrong.length)} most confident of ${wrong.length} mistakes (true→predicted); click one to explore it`);
    } catch (err) {
      status.textContent = `error: ${err.message ?? err}`;
    } finally {
      button.disabled = false;
    }
  });

  function drawConfusion(matrix) {
    const most = Math.max(...matrix.flatMap((row, t) => row.filter((_, p) => p !== t)), 1);
    const head = `<tr><th scope="col">true \\ predicted</th>${matrix.map((_, p) => `<th scope="col">${p}</th>`).join("")}</tr>`;
    confusion.innerHTML = `<caption>Confusion matrix: rows the true class, columns the predicted one; click a cell for its images</caption>${head}`;
    matrix.forEach((row, t) => {
      const tr = confusion.insertRow();
      tr.innerHTML = `<th scope="row">${t}</th>`;
      row.forEach((n, p) => {
        const cell = tr.insertCell();
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = n;
        button.setAttribute("aria-label", `${n} test images of ${t} predicted ${p}`);
        const heat = p === t ? 0 : n / most;
        button.style.background = p === t ? "#e6f2e6" : `rgba(220, 60, 40, ${heat * 0.8})`;
        button.addEventListener("click", () => {
          const indices = scored.classes.map((_, i) => i).filter((i) => scored.labels[i] === t && scored.classes[i] === p);
          fill(indices.slice(0, 40), `${indices.length} test images of ${t} predicted ${p}${indices.length > 40 ? " (the first 40)" : ""}`);
        });
        cell.append(button);
      });
    });
  }

  // What each class likes best.
  document.querySelector("#class-images").addEventListener("click", async (e) => {
    const button = e.target;
    const out = document.querySelector("#classes");
    button.disabled = true;
    out.textContent = "gradient ascent, 300 steps…";
    try {
      const images = await explorer.model.classImages();
      out.replaceChildren(
        ...Array.from({ length: 10 }, (_, c) => {
          const figure = document.createElement("figure");
          const picture = canvas("thumb");
          paintGrey(picture, images.subarray(c * 784, (c + 1) * 784), SIDE, SIDE, 0, 1);
          const label = document.createElement("figcaption");
          label.textContent = c;
          figure.append(picture, label);
          return figure;
        }),
      );
    } catch (err) {
      out.textContent = `error: ${err.message ?? err}`;
    } finally {
      button.disabled = false;
    }
  });
}
