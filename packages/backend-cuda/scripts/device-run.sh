#!/usr/bin/env bash
# Runs on the GPU machine (see pack-device.sh): conformance + our timings, the PyTorch peer, then the ratio table.
# Results: $OUT/ours.log, $OUT/peer.log, $OUT/report.md, $OUT/ours.json, $OUT/peer.json.
set -uo pipefail
top=$(pwd)
xz -dc "$top/.device/node.xz" > /tmp/node && chmod +x /tmp/node
export PATH=/tmp:$PATH
cd "$top/.device/recur"
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
data=/tmp/recur-gpu
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,memory.total --format=csv
if ! node -e "require('./build/recur_cuda.node').info()" 2>&1; then
  echo "the carried addon does not load here: rebuilding with this machine's nvcc"
  rm -rf build/obj build/recur_cuda.node
  NAPI_INCLUDE="$PWD/napi/include" RECUR_CUDA_ARCHS=90 node scripts/build.mjs || exit 1
fi
timeout 240 node dist/gpu-check.mjs --out "$data" ${QUICK:+--quick} > "$OUT/ours.log" 2>&1; echo "gpu-check exit $?"; grep -v "^  cuda" "$OUT/ours.log"
PYTHONUNBUFFERED=1 timeout 150 python3 scripts/gpu-peer.py "$data" ${QUICK:+--quick} 2>&1 | tee "$OUT/peer.log"
node dist/gpu-check.mjs --report "$data" 2>&1 | tee "$OUT/report.md"
cp "$data/ours.json" "$data/peer.json" "$OUT/" 2>/dev/null
exit 0
