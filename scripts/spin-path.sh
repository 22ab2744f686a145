#!/usr/bin/env bash
# Prints the Spin CLI to use: `spin` from PATH, else one installed before
# in .kiln/bin, else ../shared/bin/spin (the offline copy beside the
# repository), else the official release downloaded and checked by
# scripts/install-spin.sh, which otherwise says exactly how to get Spin.
# KILN_SHARED_DIR overrides ../shared, KILN_SPIN_DIR .kiln/bin (the tests
# use both).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
shared="${KILN_SHARED_DIR:-$root/../shared}"
installed="${KILN_SPIN_DIR:-$root/.kiln/bin}"
if command -v spin >/dev/null 2>&1; then
  command -v spin
elif [ -x "$installed/spin" ]; then
  echo "$installed/spin"
elif [ -x "$shared/bin/spin" ]; then
  realpath "$shared/bin/spin"
else
  KILN_SPIN_DIR="$installed" "$root/scripts/install-spin.sh" >&2
  echo "$installed/spin"
fi
