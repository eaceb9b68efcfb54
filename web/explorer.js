// What every panel of the page looks at: one model and one input (28x28 values in [0, 1]),
// and helpers the panels share (painting values into canvases, one GPU job at a time).

/** The model being explored and the input it is shown; panels listen for "model" and
 * "input" events. A model that changes in place (training copies its weights into it)
 * is announced with `modelChanged()`. */
export class Explorer extends EventTarget {
  constructor(lenet, lab) {
    super();
    this.lenet = lenet;
    this.lab = lab;
    this.model = null;
    this.modelName = "";
    this.input = null;
    this.inputName = "";
    /** The input's true class, where it has one (a test image). */
    this.label = null;
    this.test = null; // MNIST's test set, once fetched
  }

  setModel(model, name) {
    Object.assign(this, { model, modelName: name });
    document.querySelector("#model-name").textContent = name;
    this.modelChanged();
  }

  modelChanged() {
    this.dispatchEvent(new Event("model"));
  }

  setInput(input, name, label = null) {
    Object.assign(this, { input, inputName: name, label });
    this.dispatchEvent(new Event("input"));
  }

  /** MNIST's test set (fetched once). */
  async testSet() {
    this.test ??= this.lenet.mnist("test");
    return this.test;
  }
}

/** The runs of `latest` tasks under way. */
const busy = new Set();

/** Resolves once no panel is computing (for tests and scripts: `window.lenetSettled`). */
export async function settled() {
  while (busy.size) await Promise.all([...busy]);
}
window.lenetSettled = settled;

/** How long each panel's last run took, in ms, by name (`window.lenetTimings`). */
const timings = (window.lenetTimings = {});

/** `task` (named `name`) run on demand, never twice at once: a call while it runs asks for
 * one more run after it (the latest state wins; calls in between are merged). Errors go
 * to `onError`. */
export function latest(name, task, onError) {
  let running = null;
  let again = false;
  return function run() {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        const t = performance.now();
        try {
          await task();
          timings[name] = performance.now() - t;
        } catch (e) {
          onError(e);
        }
      } while (again);
      busy.delete(running);
      running = null;
    })();
    busy.add(running);
    return running;
  };
}

/** Paints `values` (h·w of them) into `canvas` (h x w pixels): grey from `lo` (black) to
 * `hi` (white). */
export function paintGrey(canvas, values, h, w, lo, hi) {
  canvas.width = w;
  canvas.height = h;
  const context = canvas.getContext("2d");
  const pixels = context.createImageData(w, h);
  const span = hi - lo || 1;
  for (let i = 0; i < h * w; i++) {
    const grey = Math.round(Math.min(1, Math.max(0, (values[i] - lo) / span)) * 255);
    pixels.data.set([grey, grey, grey, 255], i * 4);
  }
  context.putImageData(pixels, 0, 0);
}

/** Red for positive, blue for negative, white at zero; `limit` maps to full colour. */
export function diverging(v, limit) {
  const t = Math.max(-1, Math.min(1, v / (limit || 1)));
  const fade = Math.round(255 * (1 - Math.abs(t)));
  return t >= 0 ? [255, fade, fade] : [fade, fade, 255];
}

/** Paints `values` (h·w) with the diverging colours, symmetric around zero. */
export function paintDiverging(canvas, values, h, w, limit = maxAbs(values)) {
  canvas.width = w;
  canvas.height = h;
  const context = canvas.getContext("2d");
  const pixels = context.createImageData(w, h);
  for (let i = 0; i < h * w; i++) pixels.data.set([...diverging(values[i], limit), 255], i * 4);
  context.putImageData(pixels, 0, 0);
}

export function maxAbs(values) {
  let m = 0;
  for (const v of values) m = Math.max(m, Math.abs(v));
  return m;
}

export function range(values) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return [lo, hi];
}

/** A `<canvas>` of class `cls`. */
export function canvas(cls = "") {
  const c = document.createElement("canvas");
  c.className = cls;
  return c;
}

/** Offers `bytes` to the visitor as the download `name`. */
export function download(bytes, name, type = "application/octet-stream") {
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  const a = Object.assign(document.createElement("a"), { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
