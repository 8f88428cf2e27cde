# Server functions the start-up scripts share; sourced after preamble.sh (needs PY, O1, MD, PORT,
# KEY, OUT, ts). SPY_PREFIX (a command line, e.g. py-spy record … --) runs in front of `o1tui serve`.

ready_url() {  # exit 0 once /v1/models answers with the key
  $PY - "$PORT" "$KEY" <<'PY' 2>/dev/null
import sys, urllib.request as u
r = u.Request(f"http://127.0.0.1:{sys.argv[1]}/v1/models", headers={"Authorization": f"Bearer {sys.argv[2]}"})
u.urlopen(r, timeout=2)
PY
}

start() {  # $1 label, rest: extra `o1tui serve` flags; the environment decides the switches.
  # Sets SERVE_PID, READY_S.
  local label=$1 t; shift
  ts "start: $label"
  t=$(date +%s.%N)
  setsid ${SPY_PREFIX:-} $O1 serve --engine lmdeploy --model "$MD" --backend pytorch --port "$PORT" --api-key "$KEY" "$@" \
    >"$OUT/serve-$label.txt" 2>&1 </dev/null &
  SERVE_PID=$!
  until ready_url; do
    kill -0 $SERVE_PID 2>/dev/null || { ts "o1tui serve exited"; tail -30 "$OUT/serve-$label.txt"; return 1; }
    sleep 0.2
  done
  READY_S=$($PY -c "import time; print(round(time.time() - $t, 1))")
  ts "ready after $READY_S s ($label)"
  echo "{\"phase\": \"start\", \"label\": \"$label\", \"ready_s\": $READY_S}" >> "$OUT/results.jsonl"
}

stop() {  # SIGTERM to `o1tui serve` (o1tui stops its server), then reports what is left
  local serve
  serve=$(pgrep -n -f "tui.cli serve .*--port $PORT")
  kill -TERM "${serve:-$SERVE_PID}" 2>/dev/null
  for _ in $(seq 60); do kill -0 $SERVE_PID 2>/dev/null || break; sleep 0.5; done
  kill -0 $SERVE_PID 2>/dev/null && { ts "still alive after 30 s"; kill -KILL -- -$SERVE_PID; }
  sleep 1
  ts "stopped; lmdeploy processes left: $(pgrep -fc "api_server.*--server-port $PORT" || true); GPU memory used: $(nvidia-smi --query-gpu=memory.used --format=csv,noheader 2>/dev/null)"
}

stages() {  # $1 a server log o1tui wrote: the stages its parser read, with the second each began
  $PY - "$1" <<'PY'
import re, sys
from backends.stages import StageTracker
t = StageTracker("lmdeploy")
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    m = re.match(r"\[\s*([\d.]+)s\] (.*)", line.rstrip("\n"))
    if m and t.feed(m.group(2)):
        p = t.progress
        if p.done in (None, 0, 1) or p.done == p.total:
            print(f"{float(m.group(1)):6.1f}s  {p.label:16} {m.group(2)[:110]}")
PY
}

app_in_tmux() {  # the app in tmux 130x30 on its managed LMDeploy server: the header once a second
  # while it loads (the stages), one question (plain strategy), the screen, then ctrl+q.
  # Arguments: extra flags for the app (e.g. --tp 2). Needs tmux and Textual; results:
  # $OUT/headers.txt, $OUT/screen-*.txt.
  command -v tmux >/dev/null && $PY -c "import textual" 2>/dev/null \
    || { ts "no tmux or no Textual here: the app part is skipped (carry Textual's wheels)"; return 1; }
  ts "the app in tmux: header while loading"
  tmux new-session -d -s o1 -x 130 -y 30 "$O1 --engine lmdeploy --model $MD --backend pytorch --port $PORT --strategy plain $*"
  local h
  for _ in $(seq 150); do
    h=$(tmux capture-pane -p -t o1 | head -1); echo "$(date +%s) $h" >> "$OUT/headers.txt"
    echo "$h" | grep -q "● ready" && break; sleep 1
  done
  cut -c1-130 "$OUT/headers.txt" | uniq -f1
  tmux capture-pane -p -t o1 > "$OUT/screen-ready.txt"
  ts "question sent"
  tmux send-keys -t o1 -l "What is 17 * 23?"; tmux send-keys -t o1 Enter
  for i in $(seq 60); do
    sleep 2; tmux capture-pane -p -t o1 > "$OUT/screen-answer.txt"
    grep -qE "done|answer ·|finished" "$OUT/screen-answer.txt" && break
  done
  ts "screen after the answer ($((i * 2)) s):"; cat "$OUT/screen-answer.txt"
  tmux send-keys -t o1 C-q
  for _ in $(seq 30); do tmux has-session -t o1 2>/dev/null || break; sleep 1; done
  tmux kill-server 2>/dev/null
  sleep 2
  ts "after ctrl+q: lmdeploy processes left: $(pgrep -fc "api_server.*--server-port $PORT" || true); GPU memory: $(nvidia-smi --query-gpu=memory.used --format=csv,noheader 2>/dev/null)"
}
