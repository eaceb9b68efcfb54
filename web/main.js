// The self-test page: opens the GPU, trains briefly, evaluates, and reports each step.
// With `#quiet` in the address it only loads the module (what the browser tests drive).
import { ready } from "./lenet.js";

const status = document.querySelector("#status");
const results = document.querySelector("#results");

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

async function selfTest() {
  if (!navigator.gpu) {
    throw new Error(
      "This browser has no WebGPU. It is in Chrome and Edge 113 and later, Safari 26 and " +
        "Firefox 141 on Windows; elsewhere it may be behind a flag.",
    );
  }
  const lenet = await ready;
  let t = performance.now();
  const lab = await lenet.Lab.open();
  report("GPU", `${lab.adapter()} (${(performance.now() - t).toFixed(0)} ms)`);
  t = performance.now();
  const [train, test] = await Promise.all([lenet.mnist("train"), lenet.mnist("test")]);
  report("MNIST", `${train.length} + ${test.length} digits (${(performance.now() - t).toFixed(0)} ms)`);
  t = performance.now();
  const training = lenet.Training.new(lab, "fast", 0, 2, 0, train.take(2000));
  let epoch;
  for (let e = 1; e <= 2; e++) {
    epoch = await training.trainEpoch((step, steps) => say(`Training: epoch ${e} of 2, step ${step} of ${steps}`));
  }
  const seconds = (performance.now() - t) / 1000;
  report("training", `2 epochs, loss ${epoch.loss.toFixed(4)}, ${(4000 / seconds).toFixed(0)} images/s`);
  t = performance.now();
  const model = await training.model();
  const evaluation = await model.evaluate(test.take(1000));
  const rate = 1000 / ((performance.now() - t) / 1000);
  report("test accuracy", `${(evaluation.accuracy * 100).toFixed(2)}% on 1,000 digits, ${rate.toFixed(0)} images/s`);
  // Two epochs on 2,000 digits reach about 85%; chance is 10%.
  if (!(evaluation.accuracy > 0.7)) throw new Error(`test accuracy ${evaluation.accuracy} after training: something is wrong`);
  // `lenet-gpu serve --model FILE` serves the model it was given here.
  const served = await fetch("../model.safetensors");
  if (served.ok) {
    const model = lenet.Model.fromSafetensors(lab, new Uint8Array(await served.arrayBuffer()));
    const evaluation = await model.evaluate(test);
    report("served model", `${model.arch}: ${(evaluation.accuracy * 100).toFixed(2)}% on the 10,000 test digits`);
  }
  say("Self-test passed: this browser trains LeNet-5 on its GPU.", "passed");
}

if (location.hash === "#quiet") {
  ready.then(() => say("Loaded; no self-test (#quiet).", "loaded"));
} else {
  selfTest().catch((e) => {
    say(`Self-test failed: ${e.message ?? e}`, "failed");
    console.error(e);
  });
}
