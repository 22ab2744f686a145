#!/usr/bin/env bash
# Makes the colour-management fixtures (tests/tests/colour.rs, docs/colour.md)
# from an sRGB image, with libvips and real ICC profiles: the same pixels
# re-expressed in Display P3 (libvips' built-in profile), Adobe RGB (1998)
# and ProPhoto RGB (colord's profiles), each with its profile embedded, as
# lossless PNG and WebP and as JPEG (Q95); and CMYK (libvips' built-in
# profile) as JPEG; P3 and ProPhoto as 16-bit PNG. Plus the P3 pixels with the profile stripped: what an
# image service that drops profiles without converting shows.
# Usage: scripts/make-colour-fixtures.sh <srgb.png> <out-dir>
set -euo pipefail
src="$1"; out="$2"
command -v vips >/dev/null || { echo "vips is needed (scripts/setup.sh installs libvips-tools)" >&2; exit 1; }
icc=/usr/share/color/icc/colord
[ -f "$icc/AdobeRGB1998.icc" ] || { echo "$icc/AdobeRGB1998.icc is missing (scripts/setup.sh installs colord-data)" >&2; exit 1; }
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
ls "$out"
