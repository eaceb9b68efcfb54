#!/usr/bin/env bash
# lenet-gpu against PyTorch (CPU, eager) on this machine, one after the other in one go,
# and the ratios. Installs PyTorch into .venv-bench on first use (a large download).
#     bash bench/compare.sh [--adapter auto]
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
if [ ! -x .venv-bench/bin/python ] || ! .venv-bench/bin/python -c "import torch" 2>/dev/null; then
    python3 -m venv .venv-bench
    .venv-bench/bin/pip install -q torch numpy
fi
cargo build --release -q
ours=$(./target/release/lenet-gpu bench --json "$@")
theirs=$(.venv-bench/bin/python bench/pytorch_lenet.py)
python3 - "$ours" "$theirs" <<'PY'
import json, sys
ours, theirs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"lenet-gpu: {ours['adapter']} ({ours['backend']}, {ours['driver']}), {ours['build']}")
print(f"baseline:  {theirs['framework']}, {theirs['threads']} threads")
print(f"{'':28}{'lenet-gpu':>12}{'PyTorch':>12}{'ratio':>8}")
rows = [("training images/s, batch 100", ours["train_images_per_s"], theirs["train_images_per_s"])]
for a, b in zip(ours["inference"], theirs["inference"]):
    rows.append((f"inference images/s, batch {a['batch']}", a["images_per_s"], b["images_per_s"]))
for name, a, b in rows:
    print(f"{name:28}{a:12.0f}{b:12.0f}{a / b:8.2f}x")
PY
