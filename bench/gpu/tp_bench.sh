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
if [ ! -f "$MD/config.json" ]; then
  $PY "$B/make_tokenizer.py" /tmp/tok >/dev/null || exit 1
  NEW=16 REPS=1 OUT="$OUT" timeout 300 $PY "$B/make_random_model.py" "$MD" /tmp/tok 2>&1 | grep -E "saved" | cut -c1-120
fi
gpu_mem() { nvidia-smi --query-gpu=memory.used --format=csv,noheader 2>/dev/null | tr '\n' ' '; }
ready_url() {
  $PY - "$PORT" "$KEY" <<'PY' 2>/dev/null
import sys, urllib.request as u
r = u.Request(f"http://127.0.0.1:{sys.argv[1]}/v1/models", headers={"Authorization": f"Bearer {sys.argv[2]}"})
u.urlopen(r, timeout=2)
PY
}
URL="http://127.0.0.1:$PORT/v1"; NAME=$(basename "$MD")

for TP in 1 2; do
  ts "o1tui serve --tp $TP"
  t=$(date +%s.%N)
  setsid $O1 serve --engine lmdeploy --model "$MD" --backend pytorch --tp $TP --port "$PORT" --api-key "$KEY" \
    >"$OUT/serve-tp$TP.txt" 2>&1 </dev/null &
  SERVE_PID=$!
  until ready_url; do
    kill -0 $SERVE_PID 2>/dev/null || { ts "o1tui serve exited"; tail -30 "$OUT/serve-tp$TP.txt"; exit 1; }
    sleep 0.2
  done
  READY_S=$($PY -c "import time; print(round(time.time() - $t, 1))")
  ts "ready after $READY_S s (tp $TP); GPU memory: $(gpu_mem)"
  echo "{\"phase\": \"start\", \"tp\": $TP, \"ready_s\": $READY_S}" >> "$OUT/results.jsonl"
  if [ $TP = 2 ]; then
    ts "g1 chain through o1tui ask (schema-guided steps), reusing the tp 2 server"
    $O1 ask "How many r are in strawberry?" --model "$MD" --engine lmdeploy --api-key "$KEY" --port "$PORT" \
      --strategy g1 --max-steps 3 --json > "$OUT/ask-g1-tp2.json" 2> "$OUT/ask-g1-tp2.err"
    echo "exit $?"; head -c 600 "$OUT/ask-g1-tp2.json"; echo
  fi
  $PY "$B/bench_client.py" "$URL" "$KEY" "$NAME" decode --out "$OUT/decode-tp$TP.jsonl" | grep decode_summary | sed "s/^/tp $TP: /"
  $PY "$B/bench_client.py" "$URL" "$KEY" "$NAME" concurrency --out "$OUT/conc-tp$TP.jsonl" | grep -i '"n"\|concurrency' | sed "s/^/tp $TP: /"
  ts "stop (SIGTERM to o1tui serve)"
  kill -TERM $SERVE_PID
  for _ in $(seq 60); do kill -0 $SERVE_PID 2>/dev/null || break; sleep 0.5; done
  sleep 2
  ts "after stop, tp $TP: lmdeploy processes left: $(pgrep -fc "api_server.*--server-port $PORT" || true); GPU memory used: $(gpu_mem)"
done

if command -v tmux >/dev/null; then
  ts "the app in tmux, --tp 2: header ready, one chain, ctrl+q"
  tmux new-session -d -s tp -x 120 -y 40 "$O1 --engine lmdeploy --model $MD --backend pytorch --tp 2 --port $PORT --strategy plain"
  for _ in $(seq 300); do tmux capture-pane -p -t tp | head -1 | grep -q "ready" && break; sleep 1; done
  tmux capture-pane -p -t tp | head -1
  tmux send-keys -t tp "What is 17 * 23?" Enter; sleep 20
  tmux capture-pane -p -t tp > "$OUT/app-tp2.txt"; head -3 "$OUT/app-tp2.txt"
  tmux send-keys -t tp C-q; sleep 10
  ts "after ctrl+q: lmdeploy processes left: $(pgrep -fc "api_server.*--server-port $PORT" || true); GPU memory used: $(gpu_mem)"
  tmux kill-session -t tp 2>/dev/null
fi
cp "$OUT"/logs/*.log "$OUT/" 2>/dev/null
ts "done"; cat "$OUT/results.jsonl"; cat "$OUT"/decode-*.jsonl | grep decode_summary
