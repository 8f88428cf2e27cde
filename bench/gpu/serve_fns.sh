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
