#!/usr/bin/env bash
# Wall time of the commands that answer once, each on an empty Mesa shader cache: on the
# fast kernels (what they ran before the quick start, LENET_GPU_KERNELS=fast) and as they
# start now (auto: the quick kernels, then a warm-up in the background, which is waited
# for before the next measurement so that it does not slow it). Medians of ROUNDS rounds.
# Usage: bash bench/cold_start.sh MODEL [ROUNDS]   (a release build: cargo build --release)
set -euo pipefail
model=$1
rounds=${2:-3}
bin=${LENET_GPU_BIN:-target/release/lenet-gpu}
out=$(mktemp -d)
commands=(
    "eval --model $model"
    "predict --model $model assets/digits/seven_on_transparency.png assets/digits/two_on_paper.jpg"
    "visualize features --model $model --out $out/features"
    "visualize saliency --model $model --out $out/saliency.png"
    "visualize gradcam --model $model --out $out/gradcam.png"
    "visualize occlusion --model $model --out $out/occlusion.png"
    "visualize mistakes --model $model --out $out/mistakes.png"
)
# Seconds of one run of "$2..." with LENET_GPU_KERNELS=$1 on a new empty cache.
cold() {
    local kernels=$1 cache
    shift
    cache=$(mktemp -d)
    local start end
    start=$(date +%s.%N)
    MESA_SHADER_CACHE_DIR=$cache LENET_GPU_KERNELS=$kernels "$bin" "$@" >/dev/null 2>&1
    end=$(date +%s.%N)
    # The warm-up the auto run started, if any, finishes before anything else is timed.
    while compgen -G "$cache/lenet-gpu-fast-kernels-*.warming" >/dev/null; do sleep 0.2; done
    rm -rf "$cache"
    echo "$end - $start" | bc
}
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
printf '%-28s %10s %10s\n' command fast auto
for c in "${commands[@]}"; do
    fast=() auto=()
    for _ in $(seq "$rounds"); do
        # shellcheck disable=SC2086
        fast+=("$(cold fast $c)")
        # shellcheck disable=SC2086
        auto+=("$(cold auto $c)")
    done
    name=$(echo "$c" | awk '{print ($1 == "visualize") ? $1 " " $2 : $1}')
    printf '%-28s %9.2fs %9.2fs\n' "$name" "$(printf '%s\n' "${fast[@]}" | median)" \
        "$(printf '%s\n' "${auto[@]}" | median)"
done
rm -rf "$out"
