// Bundles the upload page into dist/: app.js (Uppy + our code, minified),
// app.css (Uppy's styles + ours) and index.html. Run by
// scripts/build-upload-page.sh after `npm ci`; nothing is fetched at run time.
import * as esbuild from 'esbuild'
import { copyFile, mkdir } from 'node:fs/promises'

await mkdir('dist', { recursive: true })
await esbuild.build({
  entryPoints: { app: 'src/main.js' },
  bundle: true,
  minify: true,
  sourcemap: true,
  format: 'esm',
  target: ['chrome110', 'firefox115', 'safari16'],
  outdir: 'dist',
  logLevel: 'warning',
})
await esbuild.build({
  entryPoints: { app: 'src/style.css' },
  bundle: true,
  minify: true,
  outdir: 'dist',
  logLevel: 'warning',
})
await copyFile('src/index.html', 'dist/index.html')
