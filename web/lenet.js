// The wasm module and what a page needs around it: fetching MNIST's files.
// `ready` resolves to the module's exports (Lab, Model, Images, Training, prepareRgba)
// plus `fetchBytes` and `mnist`; pages and tests (through `window.lenetReady`) use it.
import init, * as wasm from "./pkg/lenet_gpu_web.js";

/** The bytes at `url`, or an error naming it. */
export async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** MNIST's `train` or `test` set, from the repository's gzip IDX files. */
export async function mnist(split) {
  const prefix = split === "train" ? "train" : "t10k";
  const [images, labels] = await Promise.all([
    fetchBytes(new URL(`../assets/mnist/${prefix}-images-idx3-ubyte.gz`, import.meta.url)),
    fetchBytes(new URL(`../assets/mnist/${prefix}-labels-idx1-ubyte.gz`, import.meta.url)),
  ]);
  return wasm.Images.fromIdx(images, labels);
}

export const ready = init().then(() => ({ ...wasm, fetchBytes, mnist }));
window.lenetReady = ready;
