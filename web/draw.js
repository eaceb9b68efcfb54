// Draw a digit: strokes on a canvas (mouse, touch, pen), prepared as MNIST's digits were
// (`prepareRgba`, what `lenet-gpu predict` does to a picture file), classified as drawn.
// Hooks for tests and scripts: [data-testid=draw], [data-testid=prediction] (its text starts
// with the digit), [data-testid=probabilities]; `window.lenetDraw` holds the last input
// and answer.

const INK = 18; // stroke width on the 280x280 canvas: MNIST's strokes are ~2 px of 28

export function drawPanel(lenet) {
  const canvas = document.querySelector("[data-testid=draw]");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  const input = document.querySelector("#input").getContext("2d");
  const prediction = document.querySelector("[data-testid=prediction]");
  const bars = [...document.querySelectorAll("[data-testid=probabilities] li")];
  const strokes = [];
  let model = null;
  let busy = false;
  let again = false;
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
    classify();
  }

  function show(x, probabilities) {
    const pixels = input.createImageData(28, 28);
    x.forEach((v, i) => {
      const grey = Math.round(v * 255); // white ink on black, as MNIST's digits
      pixels.data.set([grey, grey, grey, 255], i * 4);
    });
    input.putImageData(pixels, 0, 0);
    bars.forEach((li, c) => {
      const p = probabilities ? probabilities[c] : 0;
      li.querySelector("meter").value = p;
      li.querySelector("output").textContent = probabilities ? p.toFixed(3) : "";
    });
  }

  // One classification at a time; strokes drawn meanwhile are classified right after.
  async function classify() {
    if (busy) return void (again = true);
    busy = state.pending = true;
    do {
      again = false;
      const { width, height } = canvas;
      const rgba = new Uint8Array(context.getImageData(0, 0, width, height).data.buffer);
      const x = lenet.prepareRgba(width, height, rgba, "mnist");
      const blank = Math.max(...x) - Math.min(...x) < 0.1; // as lenet-gpu predict's "no digit"
      state.input = x;
      if (blank || !model) {
        Object.assign(state, { probabilities: null, class: null });
        prediction.textContent = model ? "draw a digit" : "no model yet";
        show(x, null);
        continue;
      }
      const p = await model.predict(x);
      Object.assign(state, { probabilities: Array.from(p.probabilities), class: p.classes[0] });
      prediction.textContent = `${p.classes[0]} (${(p.probabilities[p.classes[0]] * 100).toFixed(1)}%)`;
      show(x, p.probabilities);
    } while (again);
    busy = state.pending = false;
  }

  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    return [((e.clientX - r.left) * canvas.width) / r.width, ((e.clientY - r.top) * canvas.height) / r.height];
  };
  canvas.addEventListener("pointerdown", (e) => {
    canvas.setPointerCapture(e.pointerId);
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

  return {
    /** Classifies with `m` from now on; `name` says whose model it is. */
    use(m, name) {
      model = m;
      document.querySelector("#draw-model").textContent = name;
      paint();
    },
  };
}
