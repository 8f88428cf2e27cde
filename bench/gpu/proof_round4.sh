#!/usr/bin/env bash
# This round's two GPU proofs in one device call (one machine start): `--dp 2` through the real
# LMDeploy proxy on one GPU (bench/gpu/dp_proof.sh), then MATH-500 x plain against a bare openai
# client (bench/gpu/math500_bench.sh), each under its own time limit. RESULTS=DIR gets the two
# consoles and the MATH-500 JSON.   WHEELS=DIR bash bench/gpu/proof_round4.sh
set -u
B=$(cd "$(dirname "$0")" && pwd)
R=${RESULTS:-/tmp/o1tui-round4}
mkdir -p "$R"
OUT=/tmp/o1tui-dp timeout "${DP_LIMIT:-250}" bash "$B/dp_proof.sh" >"$R/dp.txt" 2>&1
echo "dp_proof rc=$?" | tee -a "$R/dp.txt"
OUT=/tmp/o1tui-math500 timeout "${MATH_LIMIT:-320}" bash "$B/math500_bench.sh" >"$R/math500.txt" 2>&1
echo "math500 rc=$?" | tee -a "$R/math500.txt"
cp /tmp/o1tui-math500/math500/math500_bench.json "$R/" 2>/dev/null
cp /tmp/o1tui-dp/results.jsonl "$R/dp_results.jsonl" 2>/dev/null
exit 0
