// Train: a preset's recipe (as `lenet-gpu train --preset`) on a slice of MNIST, a few
// steps at a time so the page stays responsive; start, pause, resume, stop; loss and
// accuracy curves as it goes (uPlot, vendored); the explorer follows the model as it
// learns. `window.lenetTraining` holds the curves and where training stands.

import uPlot from "./vendor/uplot/uPlot.esm.js";

const SLICE = 5; // steps between looks at the page
const FOLLOW_MS = 1500; // how often the explorer's model catches up with training
const PEEK_TEST = 1000; // test images scored during an epoch; the whole set at its end

export function trainPanel(explorer) {
  const { lenet, lab } = explorer;
  const form = document.querySelector("#train-form");
  const start = document.querySelector("#train-start");
  const pause = document.querySelector("#train-pause");
  const stop = document.querySelector("#train-stop");
  const bar = document.querySelector("#train-progress");
  const speed = document.querySelector("#train-speed");
  const charts = document.querySelector("#charts");
  let run = null; // { paused, stopped, resume }
  const state = (window.lenetTraining = { running: false, epochs: [], steps: [], error: null });

  function chart(title, series, yRange) {
    const width = Math.min(560, charts.clientWidth || 560);
    return new uPlot(
      {
        title,
        width,
        height: 220,
        scales: { x: { time: false }, y: yRange ? { range: yRange } : {} },
        axes: [{ label: "step" }, {}],
        series: [{ label: "step" }, ...series.map(([label, stroke, dash]) => ({ label, stroke, dash, spanGaps: true, points: { show: !!dash } }))],
      },
      [[], ...series.map(() => [])],
      charts,
    );
  }

  async function train() {
    const preset = form.preset.value;
    const seed = form.seed.valueAsNumber | 0;
    const count = Number(form.images.value);
    const epochs = Math.max(1, form.epochs.valueAsNumber | 0);
    const batch = form.batch.valueAsNumber | 0; // 0: the recipe's
    const [all, test] = await Promise.all([lenet.mnist("train"), explorer.testSet()]);
    const peek = test.take(PEEK_TEST);
    const training = lenet.Training.new(lab, preset, seed, epochs, batch, all.take(count));
    const model = await training.model();
    const name = () => `trained here: ${preset}, seed ${seed}, ${count.toLocaleString("en")} images, epoch ${training.epoch} of ${epochs}`;
    explorer.setModel(model, name());
    charts.replaceChildren();
    const loss = chart("loss", [["train (epoch's running mean)", "#1f77b4"], [`test (${PEEK_TEST})`, "#d62728", [4, 4]]], null);
    const accuracy = chart("accuracy", [
      ["train", "#1f77b4"],
      [`test (${PEEK_TEST})`, "#d62728", [4, 4]],
      ["test (10,000, epoch end)", "#2ca02c", [1, 3]],
    ], [0, 1]);
    const rows = { x: [], trainLoss: [], testLoss: [], trainAcc: [], testAcc: [], epochAcc: [] };
    const redraw = () => {
      loss.setData([rows.x, rows.trainLoss, rows.testLoss]);
      accuracy.setData([rows.x, rows.trainAcc, rows.testAcc, rows.epochAcc]);
    };
    Object.assign(state, { running: true, epochs: [], steps: [], error: null });
    const total = training.stepsPerEpoch * epochs;
    const peekEvery = Math.max(1, Math.round(training.stepsPerEpoch / 5));
    let trainMs = 0; // time spent training, not scoring
    let followed = performance.now();
    let nextPeek = peekEvery;
    while (training.epoch < epochs && !run.stopped) {
      if (run.paused) {
        speed.textContent = `paused at step ${training.step} of ${total}`;
        await new Promise((resume) => (run.resume = resume));
        continue;
      }
      const t = performance.now();
      const p = await training.trainSteps(SLICE);
      trainMs += performance.now() - t;
      const done = training.step;
      const row = { step: done, loss: p.loss, accuracy: p.accuracy, testLoss: null, testAccuracy: null, epochAccuracy: null };
      if (done >= nextPeek || training.epoch > p.epoch) {
        nextPeek = done + peekEvery;
        const e = await training.evaluate(peek);
        Object.assign(row, { testLoss: e.loss, testAccuracy: e.accuracy });
      }
      if (training.epoch > p.epoch) {
        const e = await training.evaluate(test);
        row.epochAccuracy = e.accuracy;
        state.epochs.push({ epoch: training.epoch, loss: p.loss, accuracy: p.accuracy, testLoss: e.loss, testAccuracy: e.accuracy });
      }
      state.steps.push(row);
      rows.x.push(done);
      rows.trainLoss.push(row.loss);
      rows.testLoss.push(row.testLoss);
      rows.trainAcc.push(row.accuracy);
      rows.testAcc.push(row.testAccuracy);
      rows.epochAcc.push(row.epochAccuracy);
      redraw();
      const perStep = count / training.stepsPerEpoch; // images a step, on average
      const rate = (done * perStep) / (trainMs / 1000);
      const left = ((total - done) * perStep) / rate;
      bar.value = done / total;
      speed.textContent = `epoch ${p.epoch + 1} of ${epochs}, step ${done} of ${total}: ${Math.round(rate)} images/s, ${Math.ceil(left)} s left`;
      if (performance.now() - followed > FOLLOW_MS || training.epoch > p.epoch) {
        followed = performance.now();
        training.copyTo(model);
        explorer.setModel(model, name());
      }
    }
    training.copyTo(model);
    explorer.setModel(model, name());
    speed.textContent += run.stopped ? " (stopped)" : " (done)";
    training.free();
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    run = { paused: false, stopped: false, resume: null };
    start.disabled = true;
    pause.disabled = stop.disabled = false;
    pause.textContent = "Pause";
    try {
      await train();
    } catch (err) {
      state.error = String(err.message ?? err);
      speed.textContent = `error: ${state.error}`;
    } finally {
      state.running = false;
      start.disabled = false;
      pause.disabled = stop.disabled = true;
    }
  });
  pause.addEventListener("click", () => {
    run.paused = !run.paused;
    pause.textContent = run.paused ? "Resume" : "Pause";
    if (!run.paused) run.resume?.();
  });
  stop.addEventListener("click", () => {
    run.stopped = true;
    run.paused = false;
    run.resume?.();
  });
}
