#!/usr/bin/env bash
# The app itself on one GPU with the real LMDeploy: in tmux, its header shows the start-up stages
# while the managed server loads, a question is answered, ctrl+q leaves no server and no GPU memory.
#
#   WHEELS=DIR bash bench/gpu/app_gpu.sh      # about 2 minutes on an H200; DIR needs Textual's
#                                             # wheels too; TAR=FILE packs $OUT into FILE
set -u
OUT=${OUT:-/tmp/o1tui-app} LOG="app.log"
source "$(dirname "$0")/preamble.sh"
source "$B/serve_fns.sh"
command -v tmux >/dev/null || { ts "no tmux here"; exit 1; }
if [ -z "${DRY_RUN:-}" ] && [ ! -f "$MD/config.json" ]; then
  $PY "$B/make_tokenizer.py" /tmp/tok >/dev/null || exit 1
  NEW=16 REPS=1 OUT="$OUT" timeout 300 $PY "$B/make_random_model.py" "$MD" /tmp/tok 2>&1 | grep -E "saved" | cut -c1-100
fi
app_in_tmux
cp "$OUT"/logs/*.log "$OUT/" 2>/dev/null; ts "done"
[ -n "${TAR:-}" ] && tar czf "$TAR" -C "$(dirname "$OUT")" "$(basename "$OUT")"
