#!/usr/bin/env bash
# Packs the GPU check for the device machine into .device/ (git-ignored): Node.js itself
# (../shared/tools/device-pack-node.sh), gpu-check.mjs bundled with every package it imports, the addon built here,
# its sources (rebuilt there if this build does not load), the golden fixtures and the PyTorch peer.
# Then, on the GPU machine, from the repository root: bash .device/recur/scripts/device-run.sh
set -euo pipefail
top=$(git rev-parse --show-toplevel)
pkg="$top/packages/backend-cuda"
bash "$top/../shared/tools/device-pack-node.sh" >/dev/null
d="$top/.device/recur"
rm -rf "$d" && mkdir -p "$d/dist" "$d/build" "$d/fixtures" "$d/scripts" "$d/native" "$d/napi"
(cd "$pkg" && node scripts/build.mjs >/dev/null && pnpm exec esbuild scripts/gpu-check.mjs --bundle --platform=node --format=esm --log-level=warning \
  --outfile="$d/dist/gpu-check.mjs" --banner:js="import { createRequire as recurRequire } from 'node:module'; const require = recurRequire(import.meta.url);")
cp "$pkg/build/recur_cuda.node" "$d/build/"
cp "$top/packages/conformance/fixtures/"*.json.gz "$d/fixtures/"
cp "$pkg/scripts/gpu-peer.py" "$pkg/scripts/device-run.sh" "$pkg/scripts/build.mjs" "$d/scripts/"
cp "$pkg/native/"* "$d/native/"
cp -r "$pkg/node_modules/node-api-headers/include" "$d/napi/"
du -sh "$top/.device"
