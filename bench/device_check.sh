#!/usr/bin/env bash
# One check on a borrowed GPU machine (CUDA-oriented, maybe without a Vulkan loader or ICD):
# what wgpu sees, the kernel tests on that adapter, the benchmark, and full trainings.
# Run from a directory holding release binaries copied from target/release (lenet-gpu and
# the test executables renamed test_<name>), and optionally lib/libvulkan.so.1.
#     OUT=/tmp/out bash device_check.sh
cd "$(dirname "$0")"
export XDG_RUNTIME_DIR=$(mktemp -d); chmod 700 "$XDG_RUNTIME_DIR"
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
echo "== machine"; nvidia-smi -L 2>&1 | head -3; nproc
echo "== vulkan"; ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>&1
ldconfig -p | grep -E "libvulkan.so|libGLX_nvidia.so|libEGL_nvidia.so" | head
if ! ldconfig -p | grep -q "libvulkan.so.1" && [ -f lib/libvulkan.so.1 ]; then
    export LD_LIBRARY_PATH=$PWD/lib:${LD_LIBRARY_PATH:-}; echo "using the carried Vulkan loader"
fi
# Containers often have NVIDIA's libraries but not its ICD file: write one.
if ! ls /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json >/dev/null 2>&1; then
    lib=$(ldconfig -p | awk '/libGLX_nvidia.so.0/{print $NF; exit}')
    if [ -n "$lib" ]; then
        printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3.0"}}\n' "$lib" > /tmp/nvidia_icd.json
        export VK_ICD_FILENAMES=/tmp/nvidia_icd.json; echo "wrote an ICD file for $lib"
    fi
fi
echo "== adapters"; ./lenet-gpu adapters 2>&1
echo "== kernel tests on the auto adapter"
for t in test_*; do echo "$t"; ./"$t" -q 2>&1 | grep -E "test result|panicked|worst" | head -5; done
echo "== bench"; ./lenet-gpu bench 2>&1 | tail -45
echo "== default recipe"; time (timeout 240 ./lenet-gpu train --out "$OUT/default" 2>&1 | tail -14)
echo "== keras-seed, 50 epochs"; time (timeout 240 ./lenet-gpu train --preset keras-seed --out "$OUT/keras" --quiet 2>&1 | tail -3)
tail -3 "$OUT/keras/metrics.csv" 2>/dev/null
rm -f "$OUT"/*/train_state.safetensors
