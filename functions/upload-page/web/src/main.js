// kiln's upload page: the Uppy Dashboard uploading with tus to kiln's
// /v1/uploads, then the manifest of each finished upload (its variants, the
// thumbnail over its placeholder, and their links).
//
// Configuration comes from the URL fragment (never sent to any server):
//   #token=<scoped upload token>  from POST /v1/upload-tokens, minted by the
//                                 embedding site's server (never the master token)
//   &api=<origin>                 the upload API, when not this page's origin
//   &chunk=<bytes>                tus PATCH size (default 5 MiB; hosted Spin
//                                 takes at most 10 MiB per request)
// The token is then kept in sessionStorage and removed from the address bar.
// GoldenRetriever keeps the selected files in IndexedDB, and the tus plugin
// the upload URLs, so a reload mid-upload resumes from the server's offset.

import Uppy from '@uppy/core'
import Dashboard from '@uppy/dashboard'
import Tus from '@uppy/tus'
import GoldenRetriever from '@uppy/golden-retriever'
import { thumbHashToDataURL } from 'thumbhash'

const MiB = 1024 * 1024
const fragment = new URLSearchParams(location.hash.slice(1))
const settings = {
  api: (fragment.get('api') || sessionStorage.getItem('kiln-api') || location.origin).replace(/\/+$/, ''),
  token: fragment.get('token') || sessionStorage.getItem('kiln-token') || '',
  chunk: Number(fragment.get('chunk') || sessionStorage.getItem('kiln-chunk') || 5 * MiB),
}
for (const [key, value] of Object.entries(settings)) sessionStorage.setItem(`kiln-${key}`, String(value))
if (location.hash) history.replaceState(null, '', location.pathname + location.search)

const results = document.getElementById('results')

if (!settings.token) {
  const form = document.getElementById('token-form')
  form.hidden = false
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    sessionStorage.setItem('kiln-token', document.getElementById('token-input').value.trim())
    location.reload()
  })
} else {
  start()
}

function start () {
  const uppy = new Uppy({
    id: 'kiln',
    autoProceed: true,
    restrictions: { allowedFileTypes: ['image/*'] },
  })
    .use(Dashboard, {
      inline: true,
      target: '#dashboard',
      height: 380,
      width: '100%',
      proudlyDisplayPoweredByUppy: false,
      showProgressDetails: true,
      note: 'Images only; each becomes WebP, AVIF, JPEG and a thumbnail.',
    })
    .use(Tus, {
      endpoint: `${settings.api}/v1/uploads`,
      headers: { Authorization: `Bearer ${settings.token}` },
      chunkSize: settings.chunk,
      retryDelays: [0, 1000, 3000, 5000],
      removeFingerprintOnSuccess: true,
    })
    .use(GoldenRetriever)

  // After a reload, GoldenRetriever restores the unfinished files: go on
  // uploading them at once (tus asks the server for its offset first).
  uppy.on('restored', () => {
    if (uppy.getFiles().some((f) => !f.progress.uploadComplete)) uppy.emit('restore-confirmed')
  })
  uppy.on('upload-success', (file, response) => {
    const upload = { name: file.name, url: response.uploadURL }
    const done = JSON.parse(sessionStorage.getItem('kiln-results') || '[]')
    sessionStorage.setItem('kiln-results', JSON.stringify([...done.filter((u) => u.url !== upload.url), upload]))
    show(upload)
  })
  uppy.on('upload-error', (file, error) => {
    const box = document.getElementById('error')
    box.hidden = false
    box.textContent = `${file?.name ?? 'upload'}: ${explain(error)}`
  })
  for (const upload of JSON.parse(sessionStorage.getItem('kiln-results') || '[]')) show(upload)
  window.kilnUppy = uppy
}

// kiln's own words for a refused request ({"error", "detail"} with its
// status), else the client's message.
function explain (error) {
  const response = error?.originalResponse
  try {
    const body = JSON.parse(response?.getBody() ?? '')
    if (body.detail) return `refused (${response.getStatus()} ${body.error}): ${body.detail}`
  } catch {}
  return error?.message ?? `${error}`
}

// One finished upload: waits for its manifest (GET answers 202 while
// converting), then shows the variants.
async function show ({ name, url }) {
  const id = url.split('/').pop()
  let card = document.querySelector(`.upload[data-upload-id="${id}"]`)
  if (!card) {
    card = document.createElement('article')
    card.className = 'upload'
    card.dataset.uploadId = id
    results.prepend(card)
  }
  render(card, name, { status: 'converting' })
  for (let delay = 500; ; delay = Math.min(delay * 1.5, 3000)) {
    let manifest
    try {
      const reply = await fetch(url, { headers: { Authorization: `Bearer ${settings.token}` } })
      manifest = await reply.json()
      if (!reply.ok && reply.status !== 202) manifest = { status: 'failed', error: manifest.error ?? `HTTP ${reply.status}` }
    } catch (e) {
      manifest = { status: 'converting', error: `${e}` }
    }
    render(card, name, manifest)
    if (!['uploading', 'assembling', 'converting'].includes(manifest.status)) return
    await new Promise((resolve) => setTimeout(resolve, delay))
  }
}

function render (card, name, manifest) {
  card.dataset.status = manifest.status
  card.replaceChildren()
  const thumbnail = (manifest.variants || []).find((v) => v.format === 'thumbnail' && v.status === 'done')
  const image = document.createElement('img')
  image.className = 'thumbnail'
  image.alt = thumbnail ? `thumbnail of ${name}` : ''
  if (thumbnail) image.src = thumbnail.url
  // The manifest's placeholder: the space reserved at the right aspect
  // ratio, the dominant colour and the ThumbHash preview painted at once.
  const placeholder = manifest.placeholder
  if (placeholder) {
    const hash = Uint8Array.from(atob(placeholder.thumbhash), (c) => c.charCodeAt(0))
    image.style.aspectRatio = String(placeholder.aspect_ratio)
    image.style.background = `${placeholder.dominant_color} center / cover url(${thumbHashToDataURL(hash)})`
    image.dataset.dominantColor = placeholder.dominant_color
  }
  const body = document.createElement('div')
  const title = document.createElement('h2')
  title.textContent = name
  const status = document.createElement('p')
  status.innerHTML = '<span class="status"></span>'
  status.firstChild.textContent = manifest.status + (manifest.error ? ` — ${manifest.error.message ?? manifest.error}` : '')
  body.append(title, status)
  if (manifest.variants) body.append(table(manifest))
  card.append(image, body)
}

function table (manifest) {
  const rows = [['format', 'size', 'pixels', 'link']]
  for (const v of manifest.variants) {
    rows.push([v.format, v.size ? `${(v.size / 1024).toFixed(0)} KiB` : '', v.width ? `${v.width}×${v.height}` : '', v])
  }
  const t = document.createElement('table')
  rows.forEach((cells, i) => {
    const tr = t.insertRow()
    for (const cell of cells) {
      const td = document.createElement(i === 0 ? 'th' : 'td')
      if (typeof cell === 'object') {
        if (cell.status === 'done') {
          const a = document.createElement('a')
          a.href = cell.url
          a.textContent = cell.url.split('/').pop()
          a.className = `variant variant-${cell.format}`
          td.append(a)
        } else {
          td.textContent = cell.status + (cell.error ? `: ${cell.error.message ?? cell.error}` : '')
        }
      } else {
        td.textContent = cell
      }
      tr.append(td)
    }
  })
  return t
}
