# The start every GPU bench script shares; sourced after the script sets OUT (its results
# folder) and LOG (its log's name in OUT). Sets up: offline Hugging Face, output copied to
# $OUT/$LOG, ts (a line with the seconds since the start), PORT, KEY (a throwaway API key so the
# bench client can reuse the server), MD (the random-weight model's folder), PY, O1 (the o1tui
# command) with o1tui's data, logs and config under $OUT. WHEELS=DIR installs the wheels in DIR
# into /tmp/site first, for machines without network.
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
B="$REPO/bench/gpu"
mkdir -p "$OUT"
exec > >(tee -a "$OUT/$LOG") 2>&1
T0=$SECONDS; ts() { echo "[t=$((SECONDS-T0))s] $*"; }
PORT=${PORT:-23333}
KEY=${BENCH_KEY:-bench-$RANDOM$RANDOM}
MD=${MODEL_DIR:-/dev/shm/m8b}
PY=python3
if [ -n "${WHEELS:-}" ]; then
  ts "install wheels"
  $PY -m pip install -q --no-index --no-deps --no-cache-dir --upgrade --target /tmp/site "$WHEELS"/*.whl \
    || { ts "wheel install failed"; exit 1; }
  export PYTHONPATH=/tmp/site:$REPO
else
  export PYTHONPATH=$REPO
fi
O1="$PY -m tui.cli"
export O1TUI_DATA_DIR="$OUT/data" O1TUI_LOG_DIR="$OUT/logs" O1TUI_CONFIG_DIR="$OUT/config"
