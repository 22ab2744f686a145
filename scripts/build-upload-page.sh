#!/usr/bin/env bash
# Builds the upload page's bundle (functions/upload-page/web/dist): Uppy and
# its tus plugin from the npm registry (pinned in package-lock.json, `npm
# ci`), bundled by esbuild. Run by scripts/build-components.sh; the page is
# then served by the upload-page component, with nothing fetched at run time.
set -euo pipefail
cd "$(dirname "$0")/../functions/upload-page/web"
command -v npm >/dev/null || { echo "npm is needed to build the upload page (install Node.js 18 or newer)" >&2; exit 1; }
if [ ! -d node_modules/@uppy/dashboard ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> installing the upload page's npm packages (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
echo "==> bundling the upload page (esbuild)" >&2
node build.mjs
