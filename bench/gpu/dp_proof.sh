#!/usr/bin/env bash
# One GPU, `o1tui serve --dp 2`: two LMDeploy api_server replicas sharing the GPU behind the real
# LMDeploy proxy, a vote and a short eval through it, then a stop that must leave nothing.
#
#   WHEELS=DIR bash bench/gpu/dp_proof.sh          # one GPU (H100); must finish in < 9 minutes
#   DRY_RUN=1 MODEL_DIR=DIR bash bench/gpu/dp_proof.sh   # CPU box: the stand-in lmdeploy
#
# Steps: `o1tui serve --dp 2` (random-weight 8B model, PyTorch engine, --max-batch-size 32; the
# two replicas share the GPU, so each gets half of --cache-max-entry-count, CACHE, default 0.7)
# until it prints its URL (every replica ready and registered with the proxy: ready time); the
# proxy's /nodes/status; no process's command line holds the key (it goes in O1TUI_API_KEY);
# `o1tui ask --samples 8` (plain) and `o1tui eval classic --limit 16` through the proxy (eval's
# default concurrency with dp 2: 2 items at once), how many requests the proxy sent to each
# replica (its log); SIGTERM to `o1tui serve`; then how many lmdeploy processes are left (must be
# 0) and the GPU memory used. Results: $OUT/results.jsonl, logs under $OUT.
# DRY_RUN=1: the stand-in lmdeploy (tests/fakes/bin) on PATH, no GPU, MODEL_DIR any folder with a
# config.json (made when missing).
set -u
OUT=${OUT:-/tmp/o1tui-dp} LOG="dp.log"
source "$(dirname "$0")/preamble.sh"
CACHE=${CACHE:-0.7}
if [ -n "${DRY_RUN:-}" ]; then
  export PATH="$REPO/tests/fakes/bin:$PATH"
  mkdir -p "$MD" && [ -f "$MD/config.json" ] || { echo '{}' > "$MD/config.json"; echo 0 > "$MD/model.safetensors"; }
else
  $PY -c "import lmdeploy, torch; print('lmdeploy', lmdeploy.__version__, 'GPUs', torch.cuda.device_count())" || exit 1
  if [ ! -f "$MD/config.json" ]; then
    $PY "$B/make_tokenizer.py" /tmp/tok >/dev/null || exit 1
    NEW=16 REPS=1 OUT="$OUT" timeout 300 $PY "$B/make_random_model.py" "$MD" /tmp/tok 2>&1 | grep -E "saved" | cut -c1-120
  fi
fi
gpu_mem() { nvidia-smi --query-gpu=memory.used --format=csv,noheader 2>/dev/null | tr '\n' ' '; }
left() {  # lmdeploy processes of this run still alive: replicas of $MD, the proxy on $PORT
  local n=0 p c
  for p in /proc/[0-9]*; do
    c=$( { tr '\0' ' ' < "$p/cmdline"; } 2>/dev/null) || continue
    case "$c" in
      *" serve api_server $MD "*|*" serve proxy --server-name 127.0.0.1 --server-port $PORT "*) n=$((n + 1)) ;;
    esac
  done
  echo $n
}
# The key reaches o1tui through its environment only: no argv of the set may show it.
export O1TUI_API_KEY="$KEY" O1TUI_DP=2 O1TUI_CACHE_MAX_ENTRY_COUNT="$CACHE"
ts "lmdeploy processes before: $(left); GPU memory: $(gpu_mem)"

ts "start: o1tui serve --dp 2 (cache $CACHE split over the 2 replicas)"
t=$(date +%s.%N)
setsid $O1 serve --dp 2 --engine lmdeploy --model "$MD" --backend pytorch --port "$PORT" \
  --max-batch-size 32 > "$OUT/serve.out" 2> "$OUT/serve.err" < /dev/null &
SERVE_PID=$!
for _ in $(seq 600); do
  grep -q "^http" "$OUT/serve.out" && break
  kill -0 $SERVE_PID 2>/dev/null || { ts "o1tui serve exited"; tail -30 "$OUT/serve.err"; exit 1; }
  sleep 0.5
done
grep -q "^http" "$OUT/serve.out" || { ts "not ready after 300 s"; tail -30 "$OUT/serve.err"; kill -TERM $SERVE_PID; exit 1; }
READY_S=$($PY -c "import time; print(round(time.time() - $t, 1))")
ts "ready after $READY_S s: $(head -1 "$OUT/serve.out")"
echo "{\"phase\": \"start\", \"label\": \"dp2\", \"ready_s\": $READY_S}" >> "$OUT/results.jsonl"
ts "GPU memory: $(gpu_mem)"
nodes() {  # the proxy's /nodes/status, with the key (from the environment) or without
  $PY - "$PORT" "$1" <<'PY'
import json, os, sys, urllib.error, urllib.request as u
headers = {"Authorization": "Bearer " + os.environ["O1TUI_API_KEY"]} if sys.argv[2] == "key" else {}
try:
    print(sorted(json.load(u.urlopen(u.Request(f"http://127.0.0.1:{sys.argv[1]}/nodes/status", headers=headers), timeout=5))))
except urllib.error.HTTPError as err:
    print(f"HTTP {err.code}")
PY
}
ts "proxy nodes (with the key): $(nodes key)"
ts "proxy nodes without the key (o1tui's guard: must be HTTP 401): $(nodes none)"
SERVER_LOG=$(ls -t "$OUT"/logs/lmdeploy-"$PORT"-*.log | head -1)
grep -E "o1tui: (--dp|2 replicas share)|o1tui launcher: the proxy" "$SERVER_LOG" | cut -c1-200
KEYED=$($PY - <<'PY'
import glob, os
key = os.environ["O1TUI_API_KEY"].encode()  # from the environment: this check's argv is clean too
found = 0
for path in glob.glob("/proc/[0-9]*/cmdline"):
    try:
        found += key in open(path, "rb").read()
    except OSError:
        pass
print(found)
PY
)
ts "command lines holding the key: $KEYED (must be 0)"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v1/models")" = 401 ] \
  && ts "the proxy refuses a request without the key (401)" || ts "THE PROXY ANSWERS WITHOUT THE KEY"

ts "vote: ask --samples 8 through the proxy"
t=$(date +%s.%N)
$O1 ask "What is 17 * 23?" --engine lmdeploy --model "$MD" --port "$PORT" --strategy plain \
  --samples 8 --param max_tokens=64 > "$OUT/vote.txt" 2> "$OUT/vote.err"
echo "exit $?"; tail -3 "$OUT/vote.txt"
VOTE_S=$($PY -c "import time; print(round(time.time() - $t, 1))")
echo "{\"phase\": \"vote\", \"samples\": 8, \"s\": $VOTE_S}" >> "$OUT/results.jsonl"

ts "eval classic --limit 16 (plain) through the proxy, default concurrency"
t=$(date +%s.%N)
$O1 eval classic --limit 16 --strategies plain --engine lmdeploy --model "$MD" --port "$PORT" \
  --param max_tokens=64 --json > "$OUT/eval.json" 2> "$OUT/eval.err"
echo "exit $?"; tail -c 400 "$OUT/eval.json"; echo
EVAL_S=$($PY -c "import time; print(round(time.time() - $t, 1))")
echo "{\"phase\": \"eval\", \"items\": 16, \"s\": $EVAL_S}" >> "$OUT/results.jsonl"
ts "requests the proxy sent to each replica:"
grep -o "A request is dispatched to http://[0-9.:]*" "$SERVER_LOG" | sort | uniq -c

ts "stop: SIGTERM to o1tui serve"
kill -TERM $SERVE_PID
for _ in $(seq 60); do kill -0 $SERVE_PID 2>/dev/null || break; sleep 0.5; done
kill -0 $SERVE_PID 2>/dev/null && { ts "o1tui serve still alive after 30 s"; kill -KILL -- -$SERVE_PID; }
sleep 2
LEFT=$(left)
ts "stopped; lmdeploy processes left: $LEFT (must be 0); GPU memory used: $(gpu_mem)"
echo "{\"phase\": \"stop\", \"left\": $LEFT, \"gpu_mem\": \"$(gpu_mem)\"}" >> "$OUT/results.jsonl"
cp "$SERVER_LOG" "$OUT/" 2>/dev/null
ts "done"; cat "$OUT/results.jsonl"
