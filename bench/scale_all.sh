#!/usr/bin/env bash
# Issue 11's real-size comparison in one go, one process at a time, both sides in the same session:
# for each shape (SmolLM2-135M, Qwen2.5-0.5B; random-init F32 checkpoints in Hugging Face layout made by
# bench/scale_bench.ts --make, the SAME directory loaded by both sides):
#   torch PEFT-style C3A (2 threads), torch real-FFT C3A (2 threads), c3a (1 thread), c3a (2 threads)
# each: load, no-grad forward 1 × 256, C3A b = 64 training step 4 × 256 (q/k/v/o/gate/up/down, AdamW);
# then no-grad forwards of 8 × 1024 = 8,192 tokens per call at the Qwen shape (c3a, torch), c3a (2 threads)
# with the frozen base in bfloat16, the main job's default run (`examples/finetune.ts`), and the sgemm / FFT
# benches — these optional parts only while the clock is before STOP_AT.
#
#   bench/scale_all.sh                    (from the repository root; torch: Debian's /usr/bin/python3)
#   env: CK=/tmp/c3a_scale (checkpoints + results; keep it out of git), STEPS=1 (timed steps after the
#        warm-up step), FWD=1 (timed forwards after the warm-up one), PERF=../shared/perf (torch reference),
#        STOP_AT=22:36 (UTC HH:MM; optional parts start only before it), TMO=900 (seconds per process),
#        ONLY=smol135m|qwen05b (one shape), BIG=8x1024 (forward-only B x T; empty to skip), BIG_SHAPE=qwen05b,
#        FT_ARGS= (extra finetune.ts options), EXTRA=1 (0: skip the finetune and sgemm/FFT benches),
#        BF16=1 (0: skip the c3a runs with the frozen base in bfloat16)
#   smoke test at tiny shapes: ONLY="tiny_llama tiny_qwen2" BIG_SHAPE=tiny_qwen2 BIG=2x64 CK=/tmp/x \
#        FT_ARGS="--steps 2 --eval-every 0 --eval-windows 2 --sample-length 8" EXTRA=0 bench/scale_all.sh
#
# Output: $CK/results.jsonl (one JSON line per run, as printed by the two scripts, tagged with "run"),
# $CK/log.txt (machine, versions, commands, wall times, load averages, stderr). Tables for README:
# deno run -A bench/scale_table.ts $CK/results.jsonl. The checkpoints take 2.5 GiB: rm -r $CK/{smol135m,qwen05b}.
set -u
cd "$(dirname "$0")/.."
CK=${CK:-/tmp/c3a_scale}
STEPS=${STEPS:-1}
FWD=${FWD:-1}
PERF=${PERF:-../shared/perf}
STOP_AT=${STOP_AT:-22:36}
TMO=${TMO:-900}
BIG=${BIG-8x1024}
BIG_SHAPE=${BIG_SHAPE:-qwen05b}
FT_ARGS=${FT_ARGS:-}
EXTRA=${EXTRA:-1}
BF16=${BF16:-1}
PY=/usr/bin/python3
RES=$CK/results.jsonl
LOG=$CK/log.txt
mkdir -p "$CK"
SHAPES=${ONLY:-smol135m qwen05b}

log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$LOG" >&2; }
before_stop() { [[ "$(date -u +%H:%M)" < "$STOP_AT" ]]; }

# run NAME CMD...: one process, its JSON line(s) tagged with NAME into results.jsonl
run() {
  local name=$1
  shift
  log "start $name (load $(cut -d' ' -f1-3 /proc/loadavg)): $*"
  local t0=$SECONDS out rc
  out=$(timeout "$TMO" "$@" 2>>"$LOG")
  rc=$?
  printf '%s\n' "$out" | grep '^{' | sed "s/^{/{\"run\":\"$name\",/" >>"$RES"
  printf '%s\n' "$out" | grep -v '^{' >>"$LOG"
  log "end $name rc=$rc wall=$((SECONDS - t0)) s (load $(cut -d' ' -f1-3 /proc/loadavg))"
}

{
  echo "=== $(date -u) git $(git rev-parse --short HEAD)"
  grep -m1 'model name' /proc/cpuinfo
  echo "cores $(nproc), $(free -g | awk '/Mem:/{print $2}') GiB"
  deno --version | head -1
  $PY -c 'import torch; print("torch", torch.__version__, "threads default", torch.get_num_threads())'
  echo "libblas -> $(readlink -f /etc/alternatives/libblas.so.3-x86_64-linux-gnu)"
} >>"$LOG" 2>&1

for s in $SHAPES; do
  [[ -f $CK/$s/model.safetensors ]] || run "make-$s" deno run -A bench/scale_bench.ts --make "$s" "$CK/$s"
done

# Both sides read the checkpoints from the page cache (the first reader would otherwise pay the disk).
for s in $SHAPES; do cat "$CK/$s/model.safetensors" >/dev/null; done

common=(--B 4 --T 256 --block 64 --steps "$STEPS" --fwd "$FWD")
for s in $SHAPES; do
  run "$s torch peft 2t" $PY "$PERF/torch_reference.py" time "$CK/$s" "${common[@]}" --threads 2 --variant peft
  run "$s torch rfft 2t" $PY "$PERF/torch_reference.py" time "$CK/$s" "${common[@]}" --threads 2 --variant rfft
  run "$s c3a 1t" deno run -A bench/scale_bench.ts "$CK/$s" "${common[@]}" --threads 1
  run "$s c3a 2t" deno run -A bench/scale_bench.ts "$CK/$s" "${common[@]}" --threads 2
done

# Forward-only, many tokens per call, Qwen shape (its 151,936 × 896 lm_head is what hit wasm32's 4 GiB).
if [[ -n $BIG && -f $CK/$BIG_SHAPE/model.safetensors ]] && before_stop; then
  B=${BIG%x*} T=${BIG#*x}
  run "$BIG_SHAPE c3a fwd ${B}x${T} 2t" deno run -A bench/scale_bench.ts "$CK/$BIG_SHAPE" --fwd-only --B "$B" \
    --T "$T" --fwd 1 --threads 2
  before_stop && run "$BIG_SHAPE torch fwd ${B}x${T} 2t" $PY - "$PERF" "$CK/$BIG_SHAPE" "$B" "$T" <<'EOF'
import json, resource, sys, time
import torch
sys.path.insert(0, sys.argv[1])
import torch_llama as TL
ck, B, T = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(2)
t0 = time.perf_counter(); m = TL.load_pretrained(ck); load_ms = (time.perf_counter() - t0) * 1e3
ids = torch.randint(0, m.config["vocab_size"], (B, T), generator=torch.Generator().manual_seed(0))
with torch.no_grad():
    t0 = time.perf_counter(); m(ids); fwd = (time.perf_counter() - t0) * 1e3
print(json.dumps({"ckpt": ck, "side": "torch", "mode": "fwd-only", "threads": 2, "B": B, "T": T,
                  "load_ms": round(load_ms), "fwd_ms": [round(fwd)], "tokens_per_s": round(B * T / fwd * 1e3, 1),
                  "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
EOF
fi

# c3a with the frozen base in bfloat16 (fromPretrained's torchDtype; compute in float32).
if [[ $BF16 == 1 ]]; then
  for s in $SHAPES; do
    before_stop && run "$s c3a 2t bf16" deno run -A bench/scale_bench.ts "$CK/$s" "${common[@]}" --threads 2 \
      --dtype bfloat16
  done
fi

# The main job's default run (prints tokens/s and the held-out score; JSON log in $CK/finetune).
if [[ $EXTRA == 1 ]] && before_stop; then
  # shellcheck disable=SC2086 # FT_ARGS is a list of options
  run "finetune default" deno run -A examples/finetune.ts --out "$CK/finetune" --overwrite $FT_ARGS
fi
[[ $EXTRA == 1 ]] && before_stop && run "gemm bench" deno bench -A bench/gemm_bench.ts
[[ $EXTRA == 1 ]] && before_stop && run "fft bench" deno run -A bench/fft_bench.ts
log "done"
