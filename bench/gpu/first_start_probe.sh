#!/usr/bin/env bash
# Where a first start's time goes on a fresh machine, and what shortens LMDeploy's warm-up.
#
#   WHEELS=DIR bash bench/gpu/first_start_probe.sh     # one run, about 5 minutes on an H200
#   ... TAR=FILE: everything in $OUT packed into FILE at the end (the device returns few files)
#
# Runs, in this order (the first is the only start with cold caches):
#   first     o1tui's launch, fresh machine, sampled by py-spy (--nonblocking, 20 Hz) if it is in
#             WHEELS: where the cold imports and the Triton compile spend their time
#   compile   empty TRITON_CACHE_DIR, warm page cache: the warm-up's compile alone
#   batch32   empty TRITON_CACHE_DIR, --max-batch-size 32 (the least a group needs)
#   warm      everything warm (a second start), sampled by py-spy
#   warmdir   (only when RUNS names it) the compile run's cache reused, sampled by py-spy
# RUNS="compile warmdir" picks runs.
# then `python -X importtime` of LMDeploy's server module (warm). Results: $OUT/results.jsonl,
# the server logs (seconds since launch on every line), py-spy's collapsed stacks spy-*.txt.
set -u
OUT=${OUT:-/tmp/o1tui-first} LOG="first_start.log"
source "$(dirname "$0")/preamble.sh"
source "$B/serve_fns.sh"
if [ -z "${DRY_RUN:-}" ]; then  # DRY_RUN=1: the stand-in lmdeploy on PATH, no GPU
  $PY -c "import lmdeploy, torch, triton; print('lmdeploy', lmdeploy.__version__, 'torch', torch.__version__, 'triton', triton.__version__)" || exit 1
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
fi
ts "triton cache dir $($PY -c 'import triton; print(triton.knobs.cache.dir)' 2>&1 | tail -1), entries before: $(ls ~/.triton/cache 2>/dev/null | wc -l)"
free -g | head -2

if [ -z "${DRY_RUN:-}" ] && [ ! -f "$MD/config.json" ]; then
  ts "tokenizer + random-weight model"
  $PY "$B/make_tokenizer.py" /tmp/tok >/dev/null || exit 1
  NEW=16 REPS=1 OUT="$OUT" timeout 300 $PY "$B/make_random_model.py" "$MD" /tmp/tok 2>&1 | grep -E "bandwidth|saved" | cut -c1-160
fi

spy() {  # $1 label: the py-spy command line for SPY_PREFIX, or nothing without py-spy
  local s=/tmp/site/bin/py-spy
  [ -x "$s" ] && echo "$s record --nonblocking --subprocesses --idle --threads --rate 20 --format raw -o $OUT/spy-$1.txt --"
}

run() {  # $1 one of the runs above
  case $1 in
    first) SPY_PREFIX=$(spy first) start first || return 1; stop
           ts "triton cache entries after the first start: $(ls ~/.triton/cache 2>/dev/null | wc -l)" ;;
    compile) SPY_PREFIX=$(spy compile) TRITON_CACHE_DIR=/tmp/tc-compile start compile || return 1; stop
             ts "kernels compiled (compile): $(ls /tmp/tc-compile | wc -l)" ;;
    batch32) TRITON_CACHE_DIR=/tmp/tc-batch32 start batch32 --max-batch-size 32 || return 1; stop
             ts "kernels compiled (batch32): $(ls /tmp/tc-batch32 | wc -l)" ;;
    warmdir) SPY_PREFIX=$(spy warmdir) TRITON_CACHE_DIR=/tmp/tc-compile start warmdir || return 1; stop
             ts "kernels in the cache after warmdir: $(ls /tmp/tc-compile | wc -l)" ;;
    warm) SPY_PREFIX=$(spy warm) start warm || return 1; stop ;;
  esac
}
for r in ${RUNS:-first compile batch32 warm}; do run "$r" || exit 1; done

ts "import times, warm (python -X importtime; top 25 cumulative)"
$PY -X importtime -c "from lmdeploy.serve.openai import api_server; import lmdeploy.cli.entrypoint" 2>"$OUT/importtime.txt"
sort -t'|' -k2 -n -r "$OUT/importtime.txt" | head -25
$PY -c "import time; t=time.time(); import torch; a=time.time(); torch.cuda.init(); torch.zeros(1, device='cuda'); print(f'import torch {a-t:.2f} s, CUDA init {time.time()-a:.2f} s')"

n=0
for f in "$OUT"/logs/*.log; do
  n=$((n+1)); cp "$f" "$OUT/server-$n.log"
  echo "== $(basename "$f")"
  stages "$f"
  grep -E "Initialized CUDASingleGraphRunner|warmup completed" "$f" | sed -E 's/ - lmdeploy - INFO - [a-z_]+\.py:[0-9]+ - / /' | cut -c1-120
done
ts "done"; cat "$OUT/results.jsonl"
[ -n "${TAR:-}" ] && tar czf "$TAR" -C "$(dirname "$OUT")" "$(basename "$OUT")"
