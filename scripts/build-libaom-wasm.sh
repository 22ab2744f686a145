#!/usr/bin/env bash
# Builds libaom (the AV1 encoder behind kiln's AVIF output) for
# wasm32-wasip2 from the source vendored in the libaom-sys crate that
# Cargo.lock pins, with Debian's clang-19 + wasi-libc: generic C kernels
# plus what clang vectorises for wasm SIMD, no threads, encoder only.
# libaom-sys's own build script does not know wasm32-wasip2, so
# scripts/build-components.sh points it at this build through
# LIB_AOM_STATIC_LIB_PATH / LIB_AOM_INCLUDE_PATH / LIB_AOM_PKG_CONFIG_PATH.
# Prints the install prefix. Rebuilds only when the source or flags change.
# Usage: scripts/build-libaom-wasm.sh <wasi-sysroot>
set -euo pipefail
cd "$(dirname "$0")/.."
sysroot="$1"

manifest=$(cargo metadata --format-version 1 --locked --filter-platform wasm32-wasip2 2>/dev/null |
  python3 -c 'import json,sys; print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"] == "libaom-sys"))')
src="$(dirname "$manifest")/vendor"
prefix="$PWD/target/libaom-wasm"
flags="-O3 -msimd128 -I$PWD/scripts/wasi/include"
options=(
  -DAOM_TARGET_CPU=generic -DCONFIG_MULTITHREAD=0 -DCONFIG_RUNTIME_CPU_DETECT=0
  -DCONFIG_AV1_DECODER=0 -DCONFIG_WEBM_IO=0 -DCONFIG_AV1_HIGHBITDEPTH=0
  -DENABLE_DOCS=0 -DENABLE_EXAMPLES=0 -DENABLE_TESTDATA=0 -DENABLE_TESTS=0 -DENABLE_TOOLS=0
)
stamp="$src $flags ${options[*]} $(sha256sum scripts/wasi/toolchain.cmake scripts/wasi/include/setjmp.h | cut -c1-16 | tr '\n' ' ')"
if [ -f "$prefix/lib/libaom.a" ] && [ "$(cat "$prefix/stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "$prefix"; exit 0
fi
command -v cmake >/dev/null || { echo "cmake is needed to build libaom (scripts/setup.sh installs it)" >&2; exit 1; }
echo "==> building libaom for wasm32-wasip2 from $src" >&2
rm -rf "$prefix"
export KILN_WASI_SYSROOT="$sysroot"
cmake -S "$src" -B "$prefix/build" -DCMAKE_TOOLCHAIN_FILE="$PWD/scripts/wasi/toolchain.cmake" \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" "${options[@]}" >"$prefix.log" 2>&1 ||
  { tail -30 "$prefix.log" >&2; exit 1; }
cmake --build "$prefix/build" --target aom -j "$(nproc)" >>"$prefix.log" 2>&1 || { tail -30 "$prefix.log" >&2; exit 1; }
# The library and the public headers are all libaom-sys needs (its Rust
# bindings are pre-generated); `cmake --install` would also want aom.pc.
mkdir -p "$prefix/lib/pkgconfig" "$prefix/include/aom"
cp "$prefix/build/libaom.a" "$prefix/lib/"
cp "$src"/aom/*.h "$prefix/include/aom/"
echo "$stamp" >"$prefix/stamp"
echo "$prefix"
