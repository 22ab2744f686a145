#!/usr/bin/env bash
# Builds kiln's Spin components for wasm32-wasip2, one cargo invocation per
# component so each .wasm links only its own encoder's features.
# Usage: scripts/build-components.sh [webp|avif|jpeg|all|thumbnail|manifest|upload-page]...  (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."

# libwebp is C: compile it with Debian's clang + wasi-libc through a sysroot
# of symlinks (Debian splits wasi-libc over /usr/include and /usr/lib).
sysroot="$PWD/target/wasi-sysroot"
if [ ! -e "$sysroot/lib/wasm32-wasip2" ]; then
  mkdir -p "$sysroot/include" "$sysroot/lib"
  ln -sfn /usr/include/wasm32-wasi "$sysroot/include/wasm32-wasip2"
  ln -sfn /usr/lib/wasm32-wasi "$sysroot/lib/wasm32-wasip2"
fi
# libwebp's SSE2 kernels, compiled to wasm SIMD through Emscripten's SSE2
# headers (Debian's emscripten package; only emmintrin.h and xmmintrin.h
# are put on the include path): libwebp selects them at run time through
# its EMSCRIPTEN CPU-info branch (docs/benchmarks.md measures the gain).
sse="$PWD/target/wasm-sse2-include"
if [ ! -e "$sse/emmintrin.h" ]; then
  mkdir -p "$sse"
  ln -sfn /usr/share/emscripten/system/include/compat/emmintrin.h "$sse/emmintrin.h"
  ln -sfn /usr/share/emscripten/system/include/compat/xmmintrin.h "$sse/xmmintrin.h"
fi
export CC_wasm32_wasip2=clang-19 AR_wasm32_wasip2=llvm-ar-19
export CFLAGS_wasm32_wasip2="--target=wasm32-wasip2 --sysroot=$sysroot -msimd128 -DEMSCRIPTEN -D__SSE__ -D__SSE2__ -DWEBP_HAVE_SSE2 -isystem $sse"
export WASI_SYSROOT="$sysroot"

# libaom (AVIF) is C built with cmake: libaom-sys links our wasm build of it.
aom="$(scripts/build-libaom-wasm.sh "$sysroot")"
export LIB_AOM_STATIC_LIB_PATH="$aom/lib" LIB_AOM_INCLUDE_PATH="$aom/include" LIB_AOM_PKG_CONFIG_PATH="$aom/lib/pkgconfig"

components=("$@")
[ ${#components[@]} -gt 0 ] || components=(webp avif jpeg all thumbnail manifest upload-page)
for c in "${components[@]}"; do
  case "$c" in
    thumbnail) pkg=kiln-thumbnail ;;
    manifest) pkg=kiln-manifest ;;
    upload-page) pkg=kiln-upload-page; scripts/build-upload-page.sh ;;
    webp|avif|jpeg|all) pkg="kiln-convert-$c" ;;
    *) echo "unknown component: $c" >&2; exit 2 ;;
  esac
  echo "==> building $pkg (wasm32-wasip2, release)"
  cargo build --release --locked --target wasm32-wasip2 -p "$pkg"
done
ls -l target/wasm32-wasip2/release/*.wasm
