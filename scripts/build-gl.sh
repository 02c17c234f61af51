#!/usr/bin/env bash
# headless-gl (the `gl` package gpu.js uses in Node) compiled from source: its install script would first try to
# download a prebuilt binary from outside, so pnpm skips it (pnpm-workspace.yaml) and this builds it once the
# system packages it needs are in (scripts/install-system-deps.sh). Skipped when its native module is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
gl_dir=$(node -e "
  const { dirname } = require('node:path');
  const gpu = dirname(require.resolve('gpu.js/package.json', { paths: ['packages/backend-gpujs'] }));
  console.log(dirname(require.resolve('gl/package.json', { paths: [gpu] })));")
if [ -f "$gl_dir/build/Release/webgl.node" ]; then exit 0; fi
# Node's own headers, where npm is set to build against them (this machine's nodedir): node-gyp would download them
args=()
nodedir=$(npm config get nodedir 2> /dev/null || true)
if [ -n "$nodedir" ] && [ "$nodedir" != "undefined" ] && [ "$nodedir" != "null" ]; then args+=("--nodedir=$nodedir"); fi
echo "building headless-gl from source in $gl_dir (ANGLE; a minute or two)..."
(cd "$gl_dir" && JOBS=max ./node_modules/.bin/node-gyp rebuild "${args[@]}" > build.log 2>&1) || { tail -40 "$gl_dir/build.log" >&2; exit 1; }
