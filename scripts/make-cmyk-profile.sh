#!/usr/bin/env bash
# Regenerates crates/core/assets/fogra39-default.icc, the profile kiln
# converts a CMYK JPEG without a usable embedded profile with
# (crates/core/src/colour.rs; crates/core/assets/README.md says what it is
# and under which licence it ships).
#
# It is built by Argyll CMS's colprof (Debian package `argyll`) from
# FOGRA39L.ti3, the FOGRA39 characterisation data (coated offset, ISO
# 12647-2; what ISO Coated v2 is built from) as shipped, under the zlib
# licence, by Debian's `icc-profiles-free`. Both are installed with apt when
# missing. Medium quality A2B tables (a 9-point CMYK grid, Lab PCS) and low
# quality B2A: about 70 KB. The header's creation date is set to a fixed
# value so a rerun with the same Argyll version gives the same bytes.
# Usage: scripts/make-cmyk-profile.sh [out.icc]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/crates/core/assets/fogra39-default.icc}"
ti3=/usr/share/color/icc/FOGRA39L.ti3
if ! command -v colprof >/dev/null || [ ! -f "$ti3" ]; then
  echo "installing argyll and icc-profiles-free with apt" >&2
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends argyll icc-profiles-free >/dev/null
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$ti3" "$work/FOGRA39L.ti3"
# -qm: medium quality A2B; -bl: low quality B2A; -nc: the .ti3 data is not
# embedded; -kr: ramp black generation (B2A only; kiln reads A2B0).
(cd "$work" && colprof -qm -bl -nc -kr \
  -D "kiln default CMYK: FOGRA39 (coated offset), made by Argyll colprof from FOGRA39L.ti3" \
  -C "From FOGRA39L.ti3 (icc-profiles-free, Kai-Uwe Behrmann), zlib licence" \
  FOGRA39L >/dev/null)
# Creation date (header bytes 24-35): 2026-01-01 00:00:00.
printf '\x07\xea\x00\x01\x00\x01\x00\x00\x00\x00\x00\x00' | dd of="$work/FOGRA39L.icc" bs=1 seek=24 conv=notrunc status=none
mkdir -p "$(dirname "$out")"
cp "$work/FOGRA39L.icc" "$out"
echo "$out: $(wc -c <"$out") bytes ($(colprof 2>&1 | sed -n 's/^Create ICC profile, //p'))"
