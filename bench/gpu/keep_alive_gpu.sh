#!/usr/bin/env bash
# On one GPU with the real LMDeploy: `o1tui ask` with keep_alive leaves the server warm, the next
# `o1tui ask` attaches (timed, and start_backend's attach alone), and the app in tmux shows the
# start-up stages in its header (captured once a second while it loads), then ctrl+q.
#
#   WHEELS=DIR bash bench/gpu/keep_alive_gpu.sh        # about 3 minutes on an H200
# (the app part needs tmux and Textual on that machine: add Textual's wheels to DIR)
set -u
OUT=${OUT:-/tmp/o1tui-keep} LOG="keep.log"
source "$(dirname "$0")/preamble.sh"
source "$B/serve_fns.sh"
export O1TUI_RUNTIME_DIR="$OUT/run"
if [ ! -f "$MD/config.json" ]; then
  $PY "$B/make_tokenizer.py" /tmp/tok >/dev/null || exit 1
  NEW=16 REPS=1 OUT="$OUT" timeout 300 $PY "$B/make_random_model.py" "$MD" /tmp/tok 2>&1 | grep -E "saved" | cut -c1-100
fi
gpu_mem() { nvidia-smi --query-gpu=memory.used --format=csv,noheader 2>/dev/null | tr '\n' ' '; }
ASK="$O1 ask 'What is 17 * 23?' --engine lmdeploy --model $MD --backend pytorch --port $PORT --strategy plain --param max_tokens=64"

ts "ask 1, keep_alive 5m: starts the server"
t=$(date +%s.%N); O1TUI_KEEP_ALIVE=5m eval "$ASK" > "$OUT/ask1.txt" 2> "$OUT/ask1.err"; echo "exit $?"
ts "ask 1 took $($PY -c "import time; print(round(time.time() - $t, 1))") s; record: $(ls "$OUT/run")"
for i in 2 3; do
  t=$(date +%s.%N); O1TUI_KEEP_ALIVE=5m eval "$ASK" > "$OUT/ask$i.txt" 2> "$OUT/ask$i.err"; echo "exit $?"
  ts "ask $i (attaching) took $($PY -c "import time; print(round(time.time() - $t, 2))") s"
done
$PY - "$MD" "$PORT" <<'PY'
import sys, time
from backends.manager import start_backend
from tui.core.config import Settings
s = Settings(engine="lmdeploy", model=sys.argv[1], port=int(sys.argv[2]), keep_alive="5m")
for _ in range(3):
    t = time.perf_counter(); h = start_backend(s)
    print(f"attach: kept={h.kept} {1000 * (time.perf_counter() - t):.1f} ms")
PY
PGID=$($PY -c "import json,glob; print(json.load(open(glob.glob('$OUT/run/server-*.json')[0]))['pid'])")
ts "stop the kept server (keeper pgid $PGID)"; kill -TERM -- -$PGID; sleep 5
ts "record left: $(ls "$OUT/run" | wc -l); GPU memory: $(gpu_mem)"

app_in_tmux
cp "$OUT"/logs/*.log "$OUT/" 2>/dev/null; ts "done"
