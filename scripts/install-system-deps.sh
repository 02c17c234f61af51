#!/usr/bin/env bash
# System packages the tests need beyond npm, from Debian's apt; installs only what is missing:
#  - chromium: the browser conformance run of backend-wasm (driven by playwright-core; nothing is downloaded by
#    playwright itself);
#  - clang-16 + lld-16: backend-simd's check that its committed wasm/recur-simd.wasm is what csrc/ compiles to;
#  - python3-torch + libopenblas0-pthread: PyTorch on the CPU, the bench's torch-cpu peer (for /usr/bin/python3;
#    OpenBLAS replaces Debian's generic BLAS, which makes torch 10-30x slower);
#  - libxi-dev libxext-dev libglu1-mesa-dev libglew-dev pkg-config: what headless-gl (gpu.js in Node) compiles
#    against (scripts/build-gl.sh); xvfb + xauth: the X display it renders on (`xvfb-run -a`).
set -euo pipefail
missing=()
for pkg in libxi-dev libxext-dev libglu1-mesa-dev libglew-dev pkg-config xvfb xauth; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2> /dev/null | grep -q 'install ok installed'; then missing+=("$pkg"); fi
done
if [ ! -x /usr/bin/chromium ] && [ -z "${CHROMIUM_PATH:-}" ]; then missing+=(chromium); fi
if ! command -v clang-16 > /dev/null; then missing+=(clang-16); fi
if ! command -v wasm-ld-16 > /dev/null && [ ! -x /usr/lib/llvm-16/bin/wasm-ld ]; then missing+=(lld-16); fi
if ! /usr/bin/python3 -c 'import torch' > /dev/null 2>&1; then missing+=(python3-torch); fi
if ! dpkg-query -W -f='${Status}' libopenblas0-pthread 2> /dev/null | grep -q 'install ok installed'; then missing+=(libopenblas0-pthread); fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing system packages: ${missing[*]}: run this as root, or apt-get install them (or set CHROMIUM_PATH)" >&2
    exit 1
  fi
  echo "installing Debian packages: ${missing[*]}..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" > /dev/null
fi
