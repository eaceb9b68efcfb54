#!/usr/bin/env python3
"""The page's speed (web/, issue 31) beside native lenet-gpu's, on this machine.

In headless Chromium (WebGPU through SwiftShader, driven by chromedriver over WebDriver)
it measures: page load to the first prediction (navigation start to a test digit's class,
from a cold page: wasm compile, device, MNIST fetch, pipelines), inference images/s at
batch 100 (`Model.predict`) and 1000 (`Model.evaluate` on the 10,000 test digits),
training images/s (the `fast` recipe at batch 100 on 10,000 digits, epochs after the
first) and the wasm's size gzipped. Natively, `lenet-gpu bench --json` on this machine's
adapter, with all its kernels and with the portable ones (`LENET_GPU_PORTABLE=1`, what the
page runs). Medians of `--rounds` rounds. Needs `bash scripts/setup --web`,
`bash scripts/build-web` and `cargo build --release`.

    python3 bench/web_speed.py [--rounds 3]
"""
import argparse
import functools
import gzip
import http.server
import json
import os
import socket
import statistics
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/lib/chromium/chromium"

MEASURE = r"""
const done = arguments[arguments.length - 1];
const rounds = arguments[0];
(async () => {
  const lenet = await window.lenetReady;
  const lab = await lenet.Lab.open();
  const test = await lenet.mnist("test");
  const model = lenet.Model.fromPreset(lab, "fast", 0);
  const first = await model.predict(test.input(0));
  const firstPrediction = performance.now();
  const time = async (f) => { const t = performance.now(); await f(); return (performance.now() - t) / 1000; };
  const batch100 = new Float32Array(100 * 784);
  for (let i = 0; i < 100; i++) batch100.set(test.input(i), i * 784);
  await model.predict(batch100);
  await model.evaluate(test);
  const b100 = [], b1000 = [], train = [];
  for (let r = 0; r < rounds; r++) {
    b100.push(100 / await time(() => model.predict(batch100)));
    b1000.push(10000 / await time(() => model.evaluate(test)));
  }
  const images = (await lenet.mnist("train")).take(10000);
  const training = lenet.Training.new(lab, "fast", 0, rounds + 1, 100, images);
  const epoch = async () => { const e = training.epoch; while (training.epoch === e) await training.trainSteps(20); };
  await epoch();
  for (let r = 0; r < rounds; r++) train.push(10000 / await time(epoch));
  return { firstPredictionMs: firstPrediction, class: first.classes[0], b100, b1000, train, adapter: lab.adapter() };
})().then((v) => done({ v }), (e) => done({ error: String(e?.stack ?? e) }));
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def webdriver(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        reply = urllib.request.urlopen(request, timeout=1800).read()
    except urllib.error.HTTPError as e:
        reply = e.read()
    value = json.loads(reply)["value"]
    if isinstance(value, dict) and "error" in value and "message" in value:
        raise RuntimeError(f"WebDriver {method} {url}: {value['message']}")
    return value


def in_the_page(rounds):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(REPO))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = free_port()
    driver = subprocess.Popen(["chromedriver", f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                webdriver("GET", f"{base}/status")
                break
            except OSError:
                time.sleep(0.1)
        args = ["--headless=new", "--enable-unsafe-webgpu", "--no-sandbox", "--disable-dev-shm-usage"]
        options = {"args": args, **({"binary": CHROMIUM} if os.path.exists(CHROMIUM) else {})}
        session = webdriver("POST", f"{base}/session", {"capabilities": {"alwaysMatch": {"goog:chromeOptions": options}}})
        url = f"{base}/session/{session['sessionId']}"
        try:
            webdriver("POST", f"{url}/timeouts", {"script": 1_800_000})
            webdriver("POST", f"{url}/url", {"url": f"http://127.0.0.1:{server.server_address[1]}/web/index.html"})
            out = webdriver("POST", f"{url}/execute/async", {"script": MEASURE, "args": [rounds]})
        finally:
            webdriver("DELETE", url)
    finally:
        driver.kill()
        server.shutdown()
    if "error" in out:
        raise RuntimeError(out["error"])
    return out["v"]


def native(portable):
    env = dict(os.environ, **({"LENET_GPU_PORTABLE": "1"} if portable else {}))
    binary = REPO / "target/release/lenet-gpu"
    out = subprocess.run([binary, "bench", "--json"], env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    wasm = (REPO / "web/pkg/lenet_gpu_web_bg.wasm").read_bytes()
    page = in_the_page(rounds)
    print(f"page ({page['adapter'].strip()}): first prediction {page['firstPredictionMs']:.0f} ms after navigation start")
    print(f"wasm: {len(wasm)} bytes, {len(gzip.compress(wasm, 9))} gzipped")
    median = statistics.median
    rows = [("page, SwiftShader", median(page["b100"]), median(page["b1000"]), median(page["train"]))]
    for portable in (False, True):
        r = native(portable)
        by_batch = {i["batch"]: i["images_per_s"] for i in r["inference"]}
        name = f"native, {r['adapter'].split(' (')[0]}" + (", portable kernels" if portable else "")
        rows.append((name, by_batch.get(100), by_batch.get(1000), r["train_images_per_s"]))
    print(f"| {'':40} | inference b100 | inference b1000 | training b100 |")
    print(f"|{'-' * 42}|---------------:|----------------:|--------------:|")
    for name, b100, b1000, train in rows:
        print(f"| {name:40} | {b100:14,.0f} | {b1000:15,.0f} | {train:13,.0f} |")


if __name__ == "__main__":
    main()
