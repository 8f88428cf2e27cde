#!/usr/bin/env bash
# MATH-500 x plain through `o1tui eval` (500 items, max_tokens 2048, ignore_eos, random weights)
# at eval's default concurrency against a managed LMDeploy server: tokens/s as a ratio to a bare
# async openai client at the same concurrency against the same server, and the wall time.
#
#   bash bench/gpu/math500_bench.sh          # one command; prints math500_bench.json
#   WHEELS=DIR bash bench/gpu/math500_bench.sh   # machines without network: wheels from DIR
#
# Goals (issue 19): ratio >= 0.9; o1tui wall time <= 300 s for all 500 items (H100 or H200).
# Needs: a CUDA GPU with torch + transformers; LMDeploy importable. Builds the random-weight
# Llama-3.1-8B-shape model (bench/gpu/make_random_model.py) when $MODEL_DIR has none. The set is a
# generated MATH-500-shaped file (no network on the GPU box), read by o1tui's real loader.
# Results: $OUT/math500/math500_bench.json, the server's log and o1tui's stderr under $OUT.
set -u
OUT=${OUT:-/tmp/o1tui-math500} LOG="math500.log"
source "$(dirname "$0")/preamble.sh"
if [ -z "${DRY_RUN:-}" ]; then  # DRY_RUN=1: run the script against the stand-in lmdeploy on PATH
  $PY -c "import lmdeploy, torch; print('lmdeploy', lmdeploy.__version__, 'torch', torch.__version__, torch.cuda.get_device_name(0))" || exit 1
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
fi
if [ ! -f "$MD/config.json" ]; then
  ts "tokenizer + random-weight model"
  $PY "$B/make_tokenizer.py" /tmp/tok >/dev/null || exit 1
  NEW=16 REPS=1 OUT="$OUT" timeout 300 $PY "$B/make_random_model.py" "$MD" /tmp/tok 2>&1 | grep -E "bandwidth|saved" | cut -c1-160
fi

source "$B/serve_fns.sh"
start math500 || exit 1
ts "MATH-500 x plain: bare openai client, then o1tui eval, same concurrency (eval's default)"
$PY "$B/math500_bench.py" --endpoint "http://127.0.0.1:$PORT/v1" --api-key "$KEY" --out "$OUT/math500" \
  --items "${ITEMS:-500}" --max-tokens "${MAX_TOKENS:-2048}" --concurrency "${CONCURRENCY:-auto}"
RC=$?
stop
exit $RC
