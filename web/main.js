// The page: draw a digit (against the model `lenet-gpu serve --model` preloaded, else the
// self-test's), and a self-test that opens the GPU, trains briefly and evaluates.
// With `#quiet` in the address the self-test does not run (what the browser tests use).
import { ready } from "./lenet.js";
import { drawPanel } from "./draw.js";

const status = document.querySelector("#status");
const results = document.querySelector("#results");
const quiet = location.hash === "#quiet";

function report(step, result) {
  results.hidden = false;
  const row = results.tBodies[0].insertRow();
  row.insertCell().textContent = step;
  row.insertCell().textContent = result;
}

function say(text, state = "") {
  status.textContent = text;
  status.className = state;
  document.title = `lenet-gpu: ${state || "running"}`;
}

async function selfTest(lenet, lab, draw, served) {
  let t = performance.now();
  const [train, test] = await Promise.all([lenet.mnist("train"), lenet.mnist("test")]);
  report("MNIST", `${train.length} + ${test.length} digits (${(performance.now() - t).toFixed(0)} ms)`);
  t = performance.now();
  const training = lenet.Training.new(lab, "fast", 0, 2, 0, train.take(2000));
  let progress;
  while (training.epoch < 2) {
    progress = await training.trainSteps(5);
    say(`Training: epoch ${progress.epoch + 1} of 2, step ${progress.step} of ${progress.steps}`);
  }
  const seconds = (performance.now() - t) / 1000;
  report("training", `2 epochs, loss ${progress.loss.toFixed(4)}, ${(4000 / seconds).toFixed(0)} images/s`);
  t = performance.now();
  const model = await training.model();
  const evaluation = await model.evaluate(test.take(1000));
  const rate = 1000 / ((performance.now() - t) / 1000);
  report("test accuracy", `${(evaluation.accuracy * 100).toFixed(2)}% on 1,000 digits, ${rate.toFixed(0)} images/s`);
  // Two epochs on 2,000 digits reach about 85%; chance is 10%.
  if (!(evaluation.accuracy > 0.7)) throw new Error(`test accuracy ${evaluation.accuracy} after training: something is wrong`);
  if (served) {
    const all = await served.evaluate(test);
    report("served model", `${served.arch}: ${(all.accuracy * 100).toFixed(2)}% on the 10,000 test digits`);
  } else {
    draw.use(model, "the self-test's model (2 epochs on 2,000 digits)");
  }
  say("Self-test passed: this browser trains LeNet-5 on its GPU.", "passed");
}

async function start() {
  if (!navigator.gpu) {
    throw new Error(
      "This browser has no WebGPU. It is in Chrome and Edge 113 and later, Safari 26 and " +
        "Firefox 141 on Windows; elsewhere it may be behind a flag.",
    );
  }
  const lenet = await ready;
  const t = performance.now();
  const lab = (window.lenetLab = await lenet.Lab.open());
  report("GPU", `${lab.adapter()} (${(performance.now() - t).toFixed(0)} ms)`);
  const draw = drawPanel(lenet);
  // `lenet-gpu serve --model FILE` serves the model it was given here.
  const response = await fetch("../model.safetensors");
  const served = response.ok ? lenet.Model.fromSafetensors(lab, new Uint8Array(await response.arrayBuffer())) : null;
  if (served) draw.use(served, `the served model (${served.arch})`);
  document.body.dataset.ready = "true";
  if (quiet) return say("Loaded; no self-test (#quiet).", "loaded");
  await selfTest(lenet, lab, draw, served);
}

start().catch((e) => {
  say(`${quiet ? "Failed" : "Self-test failed"}: ${e.message ?? e}`, "failed");
  console.error(e);
});
