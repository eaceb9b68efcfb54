#!/usr/bin/env bash
# lenet-gpu against PyTorch (CPU, eager) on this machine, in turn in one go, and the ratios.
# Installs PyTorch into .venv-bench on first use (a large download).
#     [ROUNDS=3] bash bench/compare.sh [--adapter auto]
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
if [ ! -x .venv-bench/bin/python ] || ! .venv-bench/bin/python -c "import torch" 2>/dev/null; then
    python3 -m venv .venv-bench
    .venv-bench/bin/pip install -q torch numpy
fi
cargo build --release -q
# Shared 2-core VMs swing by up to 2x from minute to minute: both sides run in turn,
# ROUNDS times (default 3), and the medians are compared.
rounds="${ROUNDS:-3}"
runs=()
for _ in $(seq "$rounds"); do
    runs+=("$(./target/release/lenet-gpu bench --json "$@")")
    runs+=("$(.venv-bench/bin/python bench/pytorch_lenet.py)")
done
python3 - "${runs[@]}" <<'PY'
import json, statistics, sys
runs = [json.loads(a) for a in sys.argv[1:]]
ours, theirs = runs[0::2], runs[1::2]
o, t = ours[0], theirs[0]
print(f"lenet-gpu: {o['adapter']} ({o['backend']}, {o['driver']}), {o['build']}")
print(f"baseline:  {t['framework']}, {t['threads']} threads")
print(f"{len(ours)} rounds, taken in turn; medians, with each round's figures in brackets")
def figures(r):
    out = [("training images/s, batch 100", r["train_images_per_s"])]
    out += [(f"inference images/s, batch {i['batch']}", i["images_per_s"]) for i in r["inference"]]
    return out
print(f"{'':32}{'lenet-gpu':>12}{'PyTorch':>12}{'ratio':>8}")
for k, (name, _) in enumerate(figures(o)):
    a = [figures(r)[k][1] for r in ours]
    b = [figures(r)[k][1] for r in theirs]
    ma, mb = statistics.median(a), statistics.median(b)
    each = ", ".join(f"{x:.0f}/{y:.0f}" for x, y in zip(a, b))
    print(f"{name:32}{ma:12.0f}{mb:12.0f}{ma / mb:8.2f}x   [{each}]")
PY
