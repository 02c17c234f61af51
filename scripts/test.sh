#!/usr/bin/env bash
# The one test command (README's second line and .ci/run): installs what the tests need beyond npm packages,
# builds headless-gl from source, builds every package, runs the lint (type checks and Prettier), checks backend-simd's committed wasm
# against its C sources, runs every package's tests, prints the conformance matrix, runs the benchmark smoke runs, builds the API
# reference and prints a closing count.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh || exit 1
bash scripts/build-gl.sh || exit 1
rm -rf packages/*/test-results examples/*/test-results
pnpm exec turbo run build --output-logs=errors-only || exit 1
status=0
echo "pnpm lint (every package's type check, then Prettier's check of the TypeScript and JavaScript):"
pnpm lint > /tmp/recur-lint.log 2>&1 && tail -1 /tmp/recur-lint.log || { cat /tmp/recur-lint.log; status=1; }
echo "backend-simd: the committed kernel binary must be what its C sources compile to:"
pnpm --filter @recur/backend-simd check:wasm || status=1 # the command its README shows
pnpm exec turbo run test --concurrency=1 --continue || status=1
echo
echo "recur-conformance (every backend this machine can run):"
xvfb-run -a node packages/conformance/dist/cli.js || status=1 # gpujs runs on headless-gl, which needs an X display
echo
echo "pnpm bench --quick (a smoke run: every contender must agree with backend-cpu; timings are printed, never asserted):"
pnpm bench --quick --out out/bench-smoke || status=1
echo
echo "pnpm bench:webgl --quick (a smoke run: in Chromium every browser backend against tfjs-layers (webgl, wasm) and onnxruntime-web, on headless-gl backend-gpujs against tfjs-layers-webgl, each checked against backend-cpu first):"
pnpm bench:webgl --quick --out out/bench-webgl-smoke || status=1
echo
echo "pnpm run docs (the API reference from the sources, in out/api; an undocumented export fails it):"
pnpm run docs || status=1
node scripts/test-summary.mjs || status=1
exit $status
