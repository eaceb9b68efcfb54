#!/usr/bin/env bash
# lenet-gpu against PyTorch on the CPU (eager, channels_last, torch.compile and both) on this
# machine, in turn in one go, and the ratios to the best PyTorch configuration.
# Installs PyTorch into .venv-bench on first use (a large download).
#     [ROUNDS=3] [MODES="eager compile"] bash bench/compare.sh [--adapter auto]
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
if [ ! -x .venv-bench/bin/python ] || ! .venv-bench/bin/python -c "import torch" 2>/dev/null; then
    python3 -m venv .venv-bench
    .venv-bench/bin/pip install -q torch numpy
fi
cargo build --release -q
# Shared 2-core VMs swing by up to 2x from minute to minute: every side runs in turn,
# ROUNDS times (default 3), and the medians are compared. PyTorch runs in each
# configuration a user reaches with a line or two (MODES); lenet-gpu is set against the
# best of them for each figure.
rounds="${ROUNDS:-3}"
modes=(${MODES:-eager channels_last compile compile+channels_last})
runs=()
for _ in $(seq "$rounds"); do
    runs+=("$(./target/release/lenet-gpu bench --json "$@")")
    for m in "${modes[@]}"; do
        runs+=("$(.venv-bench/bin/python bench/pytorch_lenet.py --mode "$m" 2>/dev/null)")
    done
done
python3 - "${#modes[@]}" "${runs[@]}" <<'PY'
import json, statistics, sys
k = int(sys.argv[1]) + 1
runs = [json.loads(a) for a in sys.argv[2:]]
ours = runs[0::k]
theirs = {runs[j]["mode"]: runs[j::k] for j in range(1, k)}
o, t = ours[0], next(iter(theirs.values()))[0]
print(f"lenet-gpu: {o['adapter']} ({o['backend']}, {o['driver']}), {o['build']}")
print(f"baseline:  {t['framework']}, {t['threads']} threads, modes {', '.join(theirs)}")
print(f"{len(ours)} rounds, every side in turn; medians, each round's figure in brackets")
def figures(r):
    out = [("training, batch 100", r["train_images_per_s"])]
    out += [(f"inference, batch {i['batch']}", i["images_per_s"]) for i in r["inference"]]
    return out
for n, (name, _) in enumerate(figures(o)):
    print(f"\n{name} (images/s)")
    med = lambda rs: (statistics.median(figures(r)[n][1] for r in rs), [figures(r)[n][1] for r in rs])
    mine, each = med(ours)
    best = max(theirs, key=lambda m: med(theirs[m])[0])
    print(f"  {'lenet-gpu':32}{mine:10.0f}   [{', '.join(f'{x:.0f}' for x in each)}]")
    for m, rs in theirs.items():
        v, each = med(rs)
        mark = "  <- best PyTorch" if m == best else ""
        print(f"  {'PyTorch ' + m:32}{v:10.0f}   [{', '.join(f'{x:.0f}' for x in each)}]  lenet-gpu/this {mine / v:.2f}x{mark}")
    print(f"  ratio to the best PyTorch configuration: {mine / med(theirs[best])[0]:.2f}x")
PY
