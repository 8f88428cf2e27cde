#!/usr/bin/env bash
# GPU proof and benchmarks for o1tui with a real `lmdeploy serve api_server`.
#
#   bash bench/gpu/run_bench.sh main     # managed server (o1tui's interactive settings), proof
#                                        # chains, decode overhead, g1 10x300, concurrency
#   bash bench/gpu/run_bench.sh second   # g1 10x300 without prefix caching, cold start with
#                                        # LMDeploy's defaults
#   bash bench/gpu/run_bench.sh eval     # o1tui eval items per minute, concurrency 1 vs 16
#   bash bench/gpu/run_bench.sh group    # ask --samples 8 vs one chain (wall time), same server
#
# Needs: a CUDA GPU with torch + transformers; LMDeploy importable (WHEELS=DIR installs wheels from
# DIR into /tmp/site first, for machines without network). Builds a random-weight model in
# Llama-3.1-8B shape (bf16, ~16 GB) and an offline tokenizer, because a real model is the same
# speed and needs a download. Results (JSON lines, logs) go to $OUT (default /tmp/o1tui-bench).
set -u
PHASE=${1:-main}
OUT=${OUT:-/tmp/o1tui-bench} LOG="run-$PHASE.log"
source "$(dirname "$0")/preamble.sh"
if [ -z "${DRY_RUN:-}" ]; then  # DRY_RUN=1: exercise the script against the stand-in lmdeploy on PATH
  $PY -c "import lmdeploy, torch; print('lmdeploy', lmdeploy.__version__, 'torch', torch.__version__, torch.cuda.get_device_name(0))" || exit 1
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
fi

if [ ! -f "$MD/config.json" ]; then
  ts "tokenizer + random-weight model (also: bandwidth bound, transformers generate speed)"
  $PY "$B/make_tokenizer.py" /tmp/tok >/dev/null || exit 1
  NEW=${HF_NEW:-128} REPS=2 OUT="$OUT" timeout 300 $PY "$B/make_random_model.py" "$MD" /tmp/tok 2>&1 \
    | grep -v "Writing model" | tail -12
fi

# Start o1tui's managed server in the background, wait for it, print seconds to ready.
start_o1tui_server() {  # $1 = label, rest = extra flags for `o1tui serve`
  local label=$1; shift
  ts "o1tui serve ($label)"
  local t=$SECONDS
  setsid $O1 serve --engine lmdeploy --model "$MD" --backend pytorch --port "$PORT" --api-key "$KEY" "$@" \
    >"$OUT/serve-$label.log" 2>&1 </dev/null &
  SERVE_PID=$!
  until $PY - "$PORT" "$KEY" <<'PY' 2>/dev/null
import sys, urllib.request as u
r = u.Request(f"http://127.0.0.1:{sys.argv[1]}/v1/models", headers={"Authorization": f"Bearer {sys.argv[2]}"})
u.urlopen(r, timeout=2)
PY
  do
    kill -0 $SERVE_PID 2>/dev/null || { ts "o1tui serve exited"; tail -40 "$OUT/serve-$label.log"; return 1; }
    [ $((SECONDS - t)) -gt 400 ] && { ts "not ready in 400 s"; return 1; }
    sleep 0.5
  done
  READY_S=$((SECONDS - t))
  ts "ready after $READY_S s ($label)"
  echo "{\"phase\": \"cold_start\", \"settings\": \"$label\", \"ready_s\": $READY_S}" >> "$OUT/results.jsonl"
  grep -v "api.key\|api_key" "$OUT/serve-$label.log" | head -5
}

stop_o1tui_server() {
  ts "stop (SIGTERM to o1tui serve)"
  kill -TERM $SERVE_PID 2>/dev/null
  for _ in $(seq 60); do kill -0 $SERVE_PID 2>/dev/null || break; sleep 0.5; done
  kill -0 $SERVE_PID 2>/dev/null && { ts "o1tui serve still alive after 30 s"; kill -KILL -- -$SERVE_PID; }
  sleep 1
  ts "left running: $(pgrep -fc 'lmdeploy' || true) lmdeploy processes; GPU memory used: $(nvidia-smi --query-gpu=memory.used --format=csv,noheader)"
}

served_name() {
  $PY - "$PORT" "$KEY" <<'PY'
import json, sys, urllib.request as u
r = u.Request(f"http://127.0.0.1:{sys.argv[1]}/v1/models", headers={"Authorization": f"Bearer {sys.argv[2]}"})
print(json.load(u.urlopen(r))["data"][0]["id"])
PY
}

URL="http://127.0.0.1:$PORT/v1"
if [ "$PHASE" = main ]; then
  start_o1tui_server interactive || exit 1
  NAME=$(served_name); ts "served model name: $NAME"
  ts "proof: o1tui ask, g1 (schema-guided JSON steps), reusing the running server"
  $O1 ask "How many r are in strawberry?" --model "$MD" --engine lmdeploy --api-key "$KEY" --port "$PORT" \
      --strategy g1 --max-steps 3 --json > "$OUT/ask-g1.json" 2> "$OUT/ask-g1.err"
  echo "exit $?"; head -c 1500 "$OUT/ask-g1.json"; echo; tail -3 "$OUT/ask-g1.err"
  ts "proof: o1tui ask, thinking"
  $O1 ask "What is 17 * 23?" --endpoint "$URL" --model "$NAME" --api-key "$KEY" --strategy thinking \
      --param max_tokens=400 > "$OUT/ask-thinking.txt" 2> "$OUT/ask-thinking.err"
  echo "exit $?"; head -c 1500 "$OUT/ask-thinking.txt"; echo; tail -3 "$OUT/ask-thinking.err"
  $O1 history list
  ts "decode: o1tui vs bare openai"
  $PY "$B/bench_client.py" "$URL" "$KEY" "$NAME" decode --out "$OUT/results.jsonl"
  ts "g1 10x300, prefix caching on"
  $PY "$B/bench_client.py" "$URL" "$KEY" "$NAME" g1 --tag on --out "$OUT/results.jsonl"
  ts "concurrency"
  $PY "$B/bench_client.py" "$URL" "$KEY" "$NAME" concurrency --out "$OUT/results.jsonl"
  stop_o1tui_server
elif [ "$PHASE" = g1pair ]; then
  # Two servers side by side (prefix caching on and off), each with a third of the GPU for its
  # KV cache, so one start-up wait serves both g1 measurements.
  export O1TUI_CACHE_MAX_ENTRY_COUNT=0.3
  PORT_ON=$PORT; PORT_OFF=$((PORT+2))
  PORT=$PORT_OFF start_o1tui_server g1-off --no-prefix-caching &
  OFF_STARTER=$!
  start_o1tui_server g1-on || exit 1
  ON_PID=$SERVE_PID
  wait $OFF_STARTER || exit 1
  for tag in on off; do
    P=$PORT_ON; [ $tag = off ] && P=$PORT_OFF
    U="http://127.0.0.1:$P/v1"
    N=$(PORT=$P served_name)
    ts "g1 10x300, prefix caching $tag"
    $PY "$B/bench_client.py" "$U" "$KEY" "$N" g1 --tag $tag --out "$OUT/results.jsonl"
  done
  SERVE_PID=$ON_PID; stop_o1tui_server
  pkill -TERM -f "tui.cli serve .*--port $PORT_OFF" ; sleep 3
  ts "left running: $(pgrep -fc 'lmdeploy' || true) lmdeploy processes; GPU memory used: $(nvidia-smi --query-gpu=memory.used --format=csv,noheader)"
elif [ "$PHASE" = group ]; then
  start_o1tui_server group || exit 1
  NAME=$(served_name)
  ts "o1tui ask --samples 8 vs one chain: g1 10 x 300-token steps, plain 3000 tokens"
  $PY "$B/group_bench.py" --endpoint "$URL" --api-key "$KEY" --model "$NAME" --out "$OUT/group" \
      --samples 8 --strategies g1,plain --steps 10 --step-tokens 300
  cat "$OUT/group/group_bench.json"
  stop_o1tui_server
elif [ "$PHASE" = eval ]; then
  start_o1tui_server eval || exit 1
  NAME=$(served_name)
  ts "o1tui eval: items per minute at --concurrency 1 vs 16, answers of 256 tokens"
  $PY "$B/eval_bench.py" --endpoint "$URL" --api-key "$KEY" --model "$NAME" --out "$OUT/eval" \
      --limit 48 --tokens 256 --concurrency 1,16
  cat "$OUT/eval/eval_bench.json"
  stop_o1tui_server
else
  # LMDeploy's timestamps (--log-level INFO) show where a start-up spends its time.
  export O1TUI_SERVER_ARGS="--log-level INFO"
  start_o1tui_server no-prefix-cache --no-prefix-caching || exit 1
  NAME=$(served_name)
  ts "g1 10x300, prefix caching off"
  $PY "$B/bench_client.py" "$URL" "$KEY" "$NAME" g1 --tag off --out "$OUT/results.jsonl"
  stop_o1tui_server
  start_o1tui_server interactive-second-start || exit 1
  ts "proof: o1tui ask, g1 (schema-guided JSON steps), reusing the running server"
  $O1 ask "How many r are in strawberry?" --model "$MD" --engine lmdeploy --api-key "$KEY" --port "$PORT" \
      --strategy g1 --max-steps 3 --json > "$OUT/ask-g1.json" 2> "$OUT/ask-g1.err"
  echo "exit $?"; head -c 2500 "$OUT/ask-g1.json"; echo; tail -3 "$OUT/ask-g1.err"
  ts "g1 10x300, prefix caching on"
  $PY "$B/bench_client.py" "$URL" "$KEY" "$NAME" g1 --tag on --out "$OUT/results.jsonl"
  $O1 history list
  stop_o1tui_server
fi
cp "$OUT"/logs/*.log "$OUT/" 2>/dev/null
ts "done"; cat "$OUT/results.jsonl"
