#!/usr/bin/env bash
# Server start-up on one GPU: o1tui's launch (PyTorch engine in the API server's process, LMDeploy's
# environment check skipped) against LMDeploy's defaults, first start on a fresh machine and second
# start, with decode speed on each server (fixed-length output: ignore_eos + min_new_tokens).
#
#   WHEELS=DIR bash bench/gpu/startup_bench.sh      # one run, about 5 minutes on an H200
#   ... TAR=FILE: everything in $OUT packed into FILE at the end
#
# Order: o1tui first start (Triton cache cold), LMDeploy's defaults (through o1tui with both
# switches off: same command otherwise, so only the switches differ), o1tui second and third start.
# Needs: a CUDA GPU with torch + transformers; LMDeploy importable or wheels in $WHEELS. Builds the
# random-weight Llama-3.1-8B-shape model (bench/gpu/make_random_model.py). Results: JSON lines in
# $OUT/results.jsonl, each server's log (seconds since launch on every line) in $OUT.
set -u
OUT=${OUT:-/tmp/o1tui-startup} LOG="startup.log"
source "$(dirname "$0")/preamble.sh"
if [ -z "${DRY_RUN:-}" ]; then  # DRY_RUN=1: run the script against the stand-in lmdeploy on PATH
  $PY -c "import lmdeploy, torch; print('lmdeploy', lmdeploy.__version__, 'torch', torch.__version__, torch.cuda.get_device_name(0))" || exit 1
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  ls ~/.triton/cache 2>/dev/null | wc -l | sed 's/^/triton cache entries before: /'
  $PY - <<'PY'  # whether torch came with bytecode, and whether Python may write it (the bytecode cache)
import importlib.util, os, sys
o = importlib.util.find_spec("torch").origin
print("torch bytecode present:", os.path.exists(importlib.util.cache_from_source(o)),
      "| PYTHONDONTWRITEBYTECODE:", sys.dont_write_bytecode, "| torch folder writable:", os.access(os.path.dirname(o), os.W_OK))
PY
fi
if [ ! -f "$MD/config.json" ]; then
  ts "tokenizer + random-weight model"
  $PY "$B/make_tokenizer.py" /tmp/tok >/dev/null || exit 1
  NEW=16 REPS=1 OUT="$OUT" timeout 300 $PY "$B/make_random_model.py" "$MD" /tmp/tok 2>&1 | grep -E "bandwidth|saved" | cut -c1-160
fi

source "$B/serve_fns.sh"

decode() {  # $1 label: bench_client's decode phase (4 x 512 tokens, o1tui path and bare openai)
  $PY "$B/bench_client.py" "http://127.0.0.1:$PORT/v1" "$KEY" "$(basename "$MD")" decode --out "$OUT/decode-$1.jsonl" \
    | grep decode_summary | sed "s/^/$1: /"
}

start o1tui-first || exit 1; decode o1tui-first; stop
O1TUI_LMDEPLOY_IN_PROCESS=false O1TUI_LMDEPLOY_ENV_CHECK=true O1TUI_LMDEPLOY_TORCH_COMPILE=true \
  O1TUI_LMDEPLOY_BYTECODE_CACHE=false start lmdeploy-defaults || exit 1
decode lmdeploy-defaults; stop
start o1tui-second || exit 1; decode o1tui-second; stop
if [ $((SECONDS - T0)) -lt 420 ]; then start o1tui-third && stop; fi

# The stages o1tui read from each log, with the second each one began (the parser's check).
n=0
for f in "$OUT"/logs/*.log; do
  n=$((n+1)); cp "$f" "$OUT/server-$n.log"
  echo "== $(basename "$f")"
  stages "$f"
done
ts "done"; cat "$OUT/results.jsonl"; cat "$OUT"/decode-*.jsonl | grep decode_summary
[ -n "${TAR:-}" ] && tar czf "$TAR" -C "$(dirname "$OUT")" "$(basename "$OUT")"
