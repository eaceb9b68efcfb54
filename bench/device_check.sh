#!/usr/bin/env bash
# One check on a borrowed GPU machine (CUDA-oriented, maybe without a Vulkan loader or ICD):
# what wgpu sees, the kernel tests on that adapter, the benchmark, and full trainings.
# BIN is a directory holding release binaries copied from target/release (lenet-gpu and
# the test executables renamed test_<name>).
#     BIN=/tmp/bin OUT=/tmp/out bash bench/device_check.sh
BIN=${BIN:?set BIN to the directory of release binaries}
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
export XDG_RUNTIME_DIR=$(mktemp -d); chmod 700 "$XDG_RUNTIME_DIR"
cd "$BIN"
echo "== machine"; nvidia-smi -L 2>&1 | head -3; nproc
echo "== vulkan"; ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/nvidia/share/vulkan/icd.d 2>&1
ldconfig -p | grep -E "libvulkan.so|libGLX_nvidia.so|libEGL_nvidia.so" | head
# Containers often have NVIDIA's libraries but no ICD file where the loader looks.
if ! ls /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json >/dev/null 2>&1; then
    if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
        export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
        echo "using $VK_DRIVER_FILES"
    else
        lib=$(ldconfig -p | awk '/libGLX_nvidia.so.0/{print $NF; exit}')
        if [ -n "$lib" ]; then
            printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3.0"}}\n' "$lib" > /tmp/nvidia_icd.json
            export VK_DRIVER_FILES=/tmp/nvidia_icd.json; echo "wrote an ICD file for $lib"
        fi
    fi
fi
echo "== adapters"; ./lenet-gpu adapters 2>&1
echo "== kernel tests on the auto adapter"
for t in test_*; do echo "$t"; timeout 120 ./"$t" -q 2>&1 | grep -E "test result|panicked|FAILED" | head -5; done
# The per-dispatch tables name every kernel variant the device selected (e.g.
# conv_forward-...-sg32 on 32-wide subgroups, ...-portable and Vec4[...] GEMMs where the
# subgroup size is not fixed).
echo "== bench"; timeout 120 ./lenet-gpu bench --steps 100 2>&1 | tail -50
# The portable kernels on the same device: whether its subgroup kernels (written for the
# width it reports, tuned on lavapipe) beat them there.
echo "== bench, portable kernels"; LENET_GPU_PORTABLE=1 timeout 120 ./lenet-gpu bench --steps 100 2>&1 | head -8
echo "== bench, LeNet-1998"; timeout 120 ./lenet-gpu bench --arch lenet1998 --steps 100 2>&1 | head -12
echo "== default recipe (10 epochs)"; time (timeout 150 ./lenet-gpu train --out "$OUT/default" 2>&1 | tail -14)
echo "== keras-seed, 50 epochs"; time (timeout 200 ./lenet-gpu train --preset keras-seed --out "$OUT/keras" --quiet 2>&1 | tail -3)
tail -3 "$OUT/keras/metrics.csv" 2>/dev/null
rm -f "$OUT"/*/train_state.safetensors "$OUT"/*/*.tmp
