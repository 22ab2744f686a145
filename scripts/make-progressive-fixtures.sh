#!/usr/bin/env bash
# Regenerates the progressive JPEG fixtures of crates/core/tests/progressive.rs:
# a 333x251 crop of a corpus photo (odd sizes, so blocks and MCUs are padded)
# encoded by libjpeg-turbo's cjpeg with its progressive script (spectral
# selection and successive approximation) in each sampling the decoder must
# handle, plus gray, RGB, restart intervals, a custom scan script and one
# 1100 px photo.
# Needs cjpeg (libjpeg-turbo-progs) and vips (libvips-tools): scripts/setup.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/crates/core/tests/fixtures/progressive"
corpus="${KILN_CORPUS:-$here/../shared/corpus}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
vips crop "$corpus/photos/colorfulcups-2560x1600.jpg" "$tmp/crop.ppm" 1201 613 333 251
cj() { cjpeg -quality 88 -progressive "$@" "$tmp/crop.ppm"; }
cj -sample 2x2 > "$out/ycc420.jpg"
cj -sample 2x1 > "$out/ycc422.jpg"
cj -sample 1x1 > "$out/ycc444.jpg"
cj -sample 1x2 > "$out/ycc440.jpg"
cj -sample 4x1 > "$out/ycc411.jpg"
cj -grayscale > "$out/gray.jpg"
cj -rgb > "$out/rgb.jpg"
cj -sample 2x2 -restart 3B > "$out/restart.jpg"
# A scan script with long end-of-band runs and refinement of every band.
cat > "$tmp/scans.txt" <<'SCANS'
0,1,2: 0-0, 0, 2;
0: 1-9, 0, 3;
0: 10-63, 0, 3;
1: 1-63, 0, 1;
2: 1-63, 0, 1;
0,1,2: 0-0, 2, 1;
0: 1-63, 3, 2;
0: 1-63, 2, 1;
0,1,2: 0-0, 1, 0;
2: 1-63, 1, 0;
1: 1-63, 1, 0;
0: 1-63, 1, 0;
SCANS
cjpeg -quality 70 -sample 2x2 -scans "$tmp/scans.txt" "$tmp/crop.ppm" > "$out/scans.jpg"
# Large enough (1100 px) that a 256 px thumbnail shrinks it on load, so the
# pipeline's fuzz targets reach the decoder from this seed (under 64 KiB).
vips thumbnail "$corpus/photos/path-2560x1600.jpg" "$tmp/large.ppm" 1100
cjpeg -quality 30 -progressive "$tmp/large.ppm" > "$out/large.jpg"
ls -l "$out"
