#!/usr/bin/env bash
# Installs what kiln's build and tests need, if missing: the wasm32-wasip2
# Rust target, Debian's clang-19 + wasi-libc for libwebp's C code, and
# cmake + nasm for libaom (the AVIF encoder: wasm and native builds),
# emscripten only for its SSE2-on-wasm-SIMD headers (libwebp's SSE2 kernels
# in wasm, scripts/build-components.sh), and
# libavif-bin (avifdec + dav1d) with which the tests decode AVIF outputs,
# redis-server and haproxy for the two-instance shared-state test,
# chromium for the upload page's browser test, libvips-tools,
# colord-data and icc-profiles-free (real ICC profiles: RGB, gray) for the colour-management fixtures and
# their reference conversions (scripts/make-colour-fixtures.sh),
# libjpeg-turbo-progs (jpegtran makes the e2e's libjpeg-style progressive
# JPEG at max_pixels; cjpeg, scripts/make-progressive-fixtures.sh), and tus-js-client and
# puppeteer-core (npm, pinned in tests/node/package-lock.json) for the
# end-to-end tests with an unmodified tus client and in Chromium. (The
# upload page's own npm packages are installed by its build,
# scripts/build-upload-page.sh.)
# With --study, also the reference tools the glue-cost study compares kiln
# with (`make study`): libvips-tools (vips, vipsthumbnail), webp (cwebp),
# and GNU time, which reads each process' peak
# RSS; avifenc comes with libavif-bin.
# With --fuzz, also what scripts/fuzz.sh needs: a nightly Rust toolchain
# and cargo-fuzz (pinned there); fuzz.sh installs them itself when missing.
# Idempotent; needs root (or sudo) only when something must be installed.
set -euo pipefail

log() { printf '==> %s\n' "$*" >&2; }

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
  log "adding Rust target wasm32-wasip2"
  rustup target add wasm32-wasip2
fi

packages=(clang-19 lld-19 llvm-19 libclang-rt-19-dev-wasm32 wasi-libc libavif-bin cmake nasm emscripten redis-server haproxy chromium libvips-tools colord-data icc-profiles-free libjpeg-turbo-progs)
if [ "${1:-}" = "--study" ]; then
  packages+=(webp time)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

root="$(cd "$(dirname "$0")/.." && pwd)"
node="$root/tests/node"
if [ ! -d "$node/node_modules/puppeteer-core" ] || [ "$node/package-lock.json" -nt "$node/node_modules/.package-lock.json" ]; then
  command -v npm >/dev/null || { echo "npm is needed for the tus-js-client and browser tests (install Node.js 18 or newer)" >&2; exit 1; }
  log "installing tus-js-client and puppeteer-core for the e2e tests (npm ci)"
  npm ci --prefix "$root/tests/node" --no-audit --no-fund --loglevel=error >/dev/null
fi

if [ "${1:-}" = "--fuzz" ]; then
  "$root/scripts/fuzz.sh" --install-only
fi
