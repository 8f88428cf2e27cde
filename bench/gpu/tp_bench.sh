#!/usr/bin/env bash
# Two GPUs: o1tui's managed LMDeploy server with --tp 1 and --tp 2, measured through o1tui itself.
#
#   WHEELS=DIR bash bench/gpu/tp_bench.sh        # a machine with 2 GPUs, about 8 minutes
#
# For each of --tp 1 and --tp 2: `o1tui serve --engine lmdeploy --model DIR --backend pytorch --tp N`
# until /v1/models answers (ready time), a schema-guided g1 chain through `o1tui ask` (tp 2),
# single-stream decode (bench_client decode: 4 x 512 tokens, ignore_eos + min_new_tokens), 1/4/16
# chains at once (bench_client concurrency), then SIGTERM and a check that no LMDeploy process is
# left and every GPU is back at 0 MiB. Then the app in tmux on the tp 2 server's settings: header
# ready, one chain, ctrl+q, nothing left. Results: JSON lines in $OUT/results.jsonl.
# NVLink multicast stays off (NCCL_NVLS_ENABLE=0 …) as the machine requires.
set -u
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
OUT=${OUT:-/tmp/o1tui-tp} LOG="tp.log"
source "$(dirname "$0")/preamble.sh"
if [ -z "${DRY_RUN:-}" ]; then  # DRY_RUN=1: the stand-in lmdeploy on PATH, no GPU
  $PY -c "import lmdeploy, torch; print('lmdeploy', lmdeploy.__version__, 'GPUs', torch.cuda.device_count())" || exit 1
  [ "$($PY -c 'import torch; print(torch.cuda.device_count())')" -ge 2 ] || { ts "needs 2 GPUs"; exit 1; }
fi
if [ -z "${DRY_RUN:-}" ] && [ ! -f "$MD/config.json" ]; then
  $PY "$B/make_tokenizer.py" /tmp/tok >/dev/null || exit 1
  NEW=16 REPS=1 OUT="$OUT" timeout 300 $PY "$B/make_random_model.py" "$MD" /tmp/tok 2>&1 | grep -E "saved" | cut -c1-120
fi
gpu_mem() { nvidia-smi --query-gpu=memory.used --format=csv,noheader 2>/dev/null | tr '\n' ' '; }
source "$B/serve_fns.sh"
URL="http://127.0.0.1:$PORT/v1"; NAME=$(basename "$MD")

for TP in 1 2; do
  start "tp$TP" --tp "$TP" || exit 1
  ts "GPU memory: $(gpu_mem)"
  if [ $TP = 2 ]; then
    ts "g1 chain through o1tui ask (schema-guided steps), reusing the tp 2 server"
    $O1 ask "How many r are in strawberry?" --model "$MD" --engine lmdeploy --api-key "$KEY" --port "$PORT" \
      --strategy g1 --max-steps 3 --json > "$OUT/ask-g1-tp2.json" 2> "$OUT/ask-g1-tp2.err"
    echo "exit $?"; head -c 600 "$OUT/ask-g1-tp2.json"; echo
  fi
  $PY "$B/bench_client.py" "$URL" "$KEY" "$NAME" decode --out "$OUT/decode-tp$TP.jsonl" | grep decode_summary | sed "s/^/tp $TP: /"
  $PY "$B/bench_client.py" "$URL" "$KEY" "$NAME" concurrency --out "$OUT/conc-tp$TP.jsonl" | grep -i '"n"\|concurrency' | sed "s/^/tp $TP: /"
  stop
done

app_in_tmux --tp 2
cp "$OUT"/logs/*.log "$OUT/" 2>/dev/null
ts "done"; cat "$OUT/results.jsonl"; cat "$OUT"/decode-*.jsonl | grep decode_summary
