#!/usr/bin/env bash
# The device check (issue #15): one script for a Linux machine with an NVIDIA driver and no network.
#
#   bench/device/pack.sh                  here, once: fills .device/ (Deno xz, DENO_DIR, libvulkan1.deb)
#   bench/device/run.sh [--shape 135m|small] [--out DIR] [--limit-scale N]
#                                         there (device tool: carry [".device"], ~8 minutes); the
#                                         step limits (270, 120, 90, 120 s) are multiplied by N (a
#                                         loaded development machine: 4)
#
# It (1) unpacks Deno from .device/deno.xz and the DENO_DIR from .device/deno_dir.tar.xz (or uses the
# `deno` on PATH and its cache when .device/ is absent, as on a development machine), unpacks the Vulkan
# loader from .device/libvulkan1_*.deb into a temporary folder when the system has no libvulkan.so.1, and
# points VK_ICD_FILENAMES at the NVIDIA ICD json when one is found; (2) prints the GPU, driver and WebGPU
# adapter; (3) runs, each with a time limit: bench/webgpu_bench.ts (FFT, C3A fwd+bwd, sgemm, training
# steps incl. the SmolLM2-135M shape, on WebGPU and wasm; JSON summary), the WebGPU conformance/golden
# tests on this adapter, and bench/device/peft_roundtrip.py (Deno <-> PEFT adapters; skipped with a message
# when peft is not importable, then the Deno half runs alone: bench/device/peft_roundtrip.ts selftest).
# Logs and bench.json go to --out (default $OUT when set, else out/device); the last lines are a
# pass/fail summary. Exit status: 0 when every step passed or was skipped.
set -uo pipefail
export NO_COLOR=1 # plain logs
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
shape=135m
scale=1
out=${OUT:-$root/out/device}
while [ $# -gt 0 ]; do
  case $1 in
  --shape) shape=$2; shift 2 ;;
  --out) out=$2; shift 2 ;;
  --limit-scale) scale=$2; shift 2 ;;
  -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
  *) echo "run.sh: unknown argument $1 (allowed: --shape 135m|small, --out DIR, --limit-scale N)" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
t_start=$(date +%s)

# ---------------------------------------------------------------- (1) Deno, its cache, Vulkan
unxz_to() { # FILE.xz OUT (xz, else Python's lzma)
  if command -v xz >/dev/null; then xz -dc "$1" >"$2"
  else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; fi
}
untar_to() { # FILE.tar.xz DIR (tar, else Python's tarfile)
  if command -v xz >/dev/null; then tar -C "$2" -xJf "$1"
  else python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$1" "$2"; fi
}
if [ -f .device/deno.xz ]; then
  unxz_to .device/deno.xz "$work/deno" && chmod +x "$work/deno"
  DENO=$work/deno
else
  DENO=$(command -v deno || true)
  [ -n "$DENO" ] || { echo "run.sh: no .device/deno.xz and no deno on PATH (run bench/device/pack.sh here first)"; exit 2; }
fi
export DENO
# the carried cache holds only what .device/deno.json imports (see pack.sh); nothing is fetched
DENO_FLAGS=""
if [ -f .device/deno_dir.tar.xz ]; then
  untar_to .device/deno_dir.tar.xz "$work"
  export DENO_DIR=$work/deno_dir
  DENO_FLAGS="--cached-only --config .device/deno.json --no-lock"
fi
export DENO_FLAGS
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1'; then
  for deb in .device/libvulkan1_*.deb; do
    [ -f "$deb" ] || continue
    dpkg -x "$deb" "$work/vk"
    export LD_LIBRARY_PATH="$work/vk/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    echo "vulkan loader: $(basename "$deb") unpacked into a temporary folder"
  done
fi
for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json \
  /etc/vulkan/icd.d/nvidia_icd.json; do
  if [ -f "$icd" ]; then
    export VK_ICD_FILENAMES=$icd VK_DRIVER_FILES=$icd
    echo "vulkan ICD: $icd"
    break
  fi
done

# ---------------------------------------------------------------- (2) what runs here
echo "deno: $("$DENO" --version | head -1) (DENO_DIR=${DENO_DIR:-default})"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | sed 's/^/gpu: /'
else
  echo "gpu: no nvidia-smi here"
fi
echo "cpu: $(nproc) cores; $(uname -srm)"
"$DENO" eval 'const a = await navigator.gpu?.requestAdapter();
const i = a?.info ?? {};
console.log("webgpu adapter:", a ? JSON.stringify({ vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description, isFallbackAdapter: i.isFallbackAdapter ?? a.isFallbackAdapter }) : "none");' 2>&1 | tail -3

# ---------------------------------------------------------------- (3) the steps
declare -a names results
step() { # name limit_s command...
  local name=$1 limit=$(($2 * scale)) t0 rc
  shift 2
  echo
  echo "=== $name (limit ${limit}s): $*"
  t0=$(date +%s)
  timeout -k 10 "$limit" "$@" 2>&1 | tee "$out/$name.log"
  rc=${PIPESTATUS[0]}
  local took=$(($(date +%s) - t0)) verdict
  if [ "$rc" = 0 ]; then
    verdict=pass
    grep -q "SKIPPED" "$out/$name.log" && verdict="skipped (see log)"
  elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then verdict="TIMEOUT after ${limit}s"
  else verdict="FAIL (exit $rc)"; fi
  names+=("$name")
  results+=("$verdict, ${took}s")
}

step bench 270 "$DENO" run -A $DENO_FLAGS --no-check bench/webgpu_bench.ts --shape "$shape" --json "$out/bench.json"
step conformance 120 "$DENO" test -A $DENO_FLAGS --no-check tests/webgpu_fft_test.ts tests/webgpu_kernels_test.ts \
  tests/webgpu_select_test.ts tests/webgpu_training_test.ts $(ls tests/conformance*_test.ts 2>/dev/null)
step peft 90 python3 bench/device/peft_roundtrip.py --deno "$DENO" --work "$work/peft"
if grep -q "SKIPPED" "$out/peft.log"; then
  step deno_half 120 "$DENO" run -A $DENO_FLAGS --no-check bench/device/peft_roundtrip.ts selftest --work "$work/self"
fi

echo
echo "=== summary ($(($(date +%s) - t_start))s in all)"
fail=0
for i in "${!names[@]}"; do
  printf '%-12s %s\n' "${names[$i]}" "${results[$i]}"
  case ${results[$i]} in pass* | skipped*) ;; *) fail=1 ;; esac
done
exit $fail
