#!/usr/bin/env bash
# Prints the Spin CLI to use: `spin` from PATH, else ../shared/bin/spin.
set -euo pipefail
if command -v spin >/dev/null 2>&1; then
  command -v spin
elif [ -x "$(dirname "$0")/../../shared/bin/spin" ]; then
  realpath "$(dirname "$0")/../../shared/bin/spin"
else
  echo "spin not found: install Spin (https://spinframework.dev) or put it on PATH" >&2
  exit 1
fi
