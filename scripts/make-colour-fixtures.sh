#!/usr/bin/env bash
# Makes the colour-management fixtures (tests/tests/colour.rs, docs/colour.md)
# from an sRGB image, with libvips and real ICC profiles: the same pixels
# re-expressed in Display P3 (libvips' built-in profile), Adobe RGB (1998)
# and ProPhoto RGB (colord's profiles), each with its profile embedded, as
# lossless PNG and WebP and as JPEG (Q95); and CMYK (libvips' built-in
# profile) as JPEG; P3 and ProPhoto as 16-bit PNG. Plus the P3 pixels with the profile stripped: what an
# image service that drops profiles without converting shows. CMYK for
# kiln's default CMYK profile (crates/core/assets/fogra39-default.icc) as a
# JPEG without a profile (cmyk-untagged.jpg: what kiln must assume). Gray
# (icc-profiles-free's profiles: Gray.icc, linear, and Gray-CIE_L.icc, L*)
# as 1-band PNG and JPEG with the profile embedded, and their true colours,
# the image's luminance in sRGB (vips' b-w), in <out-dir>/truth/gray.png
# (and the untagged CMYK file's ink colours in truth/cmyk-untagged.png).
# Usage: scripts/make-colour-fixtures.sh <srgb.png> <out-dir>
set -euo pipefail
src="$1"; out="$2"
command -v vips >/dev/null || { echo "vips is needed (scripts/setup.sh installs libvips-tools)" >&2; exit 1; }
icc=/usr/share/color/icc/colord
[ -f "$icc/AdobeRGB1998.icc" ] || { echo "$icc/AdobeRGB1998.icc is missing (scripts/setup.sh installs colord-data)" >&2; exit 1; }
gray=/usr/share/color/icc
[ -f "$gray/Gray.icc" ] || { echo "$gray/Gray.icc is missing (scripts/setup.sh installs icc-profiles-free)" >&2; exit 1; }
default_cmyk="$(cd "$(dirname "$0")/.." && pwd)/crates/core/assets/fogra39-default.icc"
mkdir -p "$out"
for space in p3 adobe-rgb prophoto; do
  case "$space" in
    p3) profile=p3 ;;
    adobe-rgb) profile="$icc/AdobeRGB1998.icc" ;;
    prophoto) profile="$icc/ProPhotoRGB.icc" ;;
  esac
  # Relative colorimetric from sRGB (the input's assumed profile).
  vips icc_transform "$src" "$out/$space.v" "$profile" --intent relative
  vips copy "$out/$space.v" "$out/$space.png"
  vips copy "$out/$space.v" "$out/$space.jpg[Q=95]"
  vips copy "$out/$space.v" "$out/$space.webp[lossless]"
  rm "$out/$space.v"
done
# 16 bits per channel, where wide gamuts keep their precision (ProPhoto in
# 8 bits bands): PNG, the format that carries 16-bit sources to kiln.
for space in p3 prophoto; do
  case "$space" in
    p3) profile=p3 ;;
    prophoto) profile="$icc/ProPhotoRGB.icc" ;;
  esac
  vips icc_transform "$src" "$out/$space-16bit.png" "$profile" --intent relative --depth 16
done
vips icc_transform "$src" "$out/cmyk.jpg[Q=95]" cmyk --intent relative
vips copy "$out/p3.png" "$out/p3-untagged.png[strip]"
vips icc_transform "$src" "$out/cmyk-untagged.v" "$default_cmyk" --intent relative
vips copy "$out/cmyk-untagged.v" "$out/cmyk-untagged.jpg[Q=95,strip]"
mkdir -p "$out/truth"
# The colours its inks hold (outside the press gamut the photo's are lost):
# the CMYK pixels back to sRGB through the same profile, before JPEG.
vips icc_transform "$out/cmyk-untagged.v" "$out/truth/cmyk-untagged.png" srgb --intent relative
rm "$out/cmyk-untagged.v"
vips colourspace "$src" "$out/truth/gray.png" b-w
for space in gray-linear gray-cie-l; do
  case "$space" in
    gray-linear) profile="$gray/Gray.icc" ;;
    gray-cie-l) profile="$gray/Gray-CIE_L.icc" ;;
  esac
  vips icc_transform "$src" "$out/$space.v" "$profile" --intent relative
  vips copy "$out/$space.v" "$out/$space.png"
  vips copy "$out/$space.v" "$out/$space.jpg[Q=95]"
  rm "$out/$space.v"
done
ls "$out"
