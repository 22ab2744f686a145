// Drives kiln's upload page in Debian's Chromium (headless, puppeteer-core):
// loads the page from one origin with the API on another (CORS), uploads a
// photo in tus chunks over a throttled link, reloads the page mid-upload,
// lets the page resume the upload, waits for the variants and saves a
// screenshot. Then, in a fresh profile, the page without a token (it must
// ask for one) and an upload its token refuses (the error must show).
// Used by tests/tests/browser.rs, which checks what it prints.
// usage: node browser.mjs <page-url> <file> <screenshot.png> <refusing-page-url> <refused-file>
// Prints one JSON line: what was seen on the wire and on the page.
import puppeteer from 'puppeteer-core'

const [pageUrl, file, screenshot, refusingPageUrl, refusedFile] = process.argv.slice(2)
const apiHost = new URL(new URLSearchParams(new URL(pageUrl).hash.slice(1)).get('api')).hostname
const MiB = 1024 * 1024
const log = (...args) => console.error('[browser]', ...args)

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  // The API's host name resolves to this machine: a second origin.
  args: ['--no-sandbox', '--disable-dev-shm-usage', `--host-resolver-rules=MAP ${apiHost} 127.0.0.1`],
})
const seen = { creations: [], heads: [], patches: [], consoleErrors: [], bearers: [], phase: 'before-reload' }
try {
  const page = await browser.newPage()
  await page.setViewport({ width: 1100, height: 900 })
  // Errors of the page's code. Chromium also logs every HTTP error answer
  // ("Failed to load resource"): a 409 is tus' answer to a PATCH at a
  // stale offset, after which the client asks for the offset again.
  page.on('console', (m) => { if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) seen.consoleErrors.push(m.text()) })
  page.on('pageerror', (e) => seen.consoleErrors.push(`${e}`))
  page.on('requestfailed', (r) => log('failed:', r.method(), r.url(), r.failure()?.errorText))
  page.on('request', (r) => {
    const auth = r.headers().authorization
    if (auth && !seen.bearers.includes(auth)) seen.bearers.push(auth)
  })
  page.on('response', (r) => {
    const req = r.request()
    if (!req.url().includes('/v1/uploads')) return
    const entry = { phase: seen.phase, status: r.status(), url: req.url(), offset: Number(r.headers()['upload-offset'] ?? -1), sent: Number(req.headers()['upload-offset'] ?? -1) }
    if (req.method() === 'POST') seen.creations.push({ ...entry, location: r.headers().location })
    if (req.method() === 'HEAD') seen.heads.push(entry)
    if (req.method() === 'PATCH') seen.patches.push(entry)
  })

  await page.goto(pageUrl, { waitUntil: 'networkidle0' })
  // ~1.5 MB/s up: the upload takes seconds, long enough to interrupt.
  const cdp = await page.createCDPSession()
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 10, downloadThroughput: 50 * MiB, uploadThroughput: 1.5 * MiB })
  const input = await page.waitForSelector('input.uppy-Dashboard-input[type=file]')
  await input.uploadFile(file)

  // Interrupt: reload once the server has acknowledged a chunk or more and
  // GoldenRetriever has saved what a restore needs (the file's blob and its
  // tus upload URL, in IndexedDB; its metadata is saved at most every 500 ms).
  const started = Date.now()
  while (!(seen.patches.some((p) => p.status === 204 && p.offset >= MiB) && (await persisted(page)))) {
    if (Date.now() - started > 60_000) throw new Error(`no chunk acknowledged and saved in 60 s: ${JSON.stringify(seen)}`)
    await new Promise((r) => setTimeout(r, 20))
  }
  seen.interruptedAt = Math.max(...seen.patches.map((p) => p.offset))
  seen.progressBeforeReload = await page.$eval('.uppy-StatusBar', (el) => el.innerText)
  log(`reloading at offset ${seen.interruptedAt}`)
  seen.phase = 'after-reload'
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 })
  await page.reload({ waitUntil: 'domcontentloaded' })

  const card = await page.waitForSelector('.upload[data-status="done"], .upload[data-status="partial"], .upload[data-status="failed"]', { timeout: 180_000 })
  const result = await card.evaluate((el) => ({
    status: el.dataset.status,
    uploadId: el.dataset.uploadId,
    text: el.innerText,
    links: [...el.querySelectorAll('a.variant')].map((a) => ({ format: a.className.replace(/.*variant-/, ''), href: a.href })),
  }))
  // The thumbnail is shown: wait for it to load, then read its size.
  await page.waitForFunction(() => document.querySelector('.upload img.thumbnail')?.complete && document.querySelector('.upload img.thumbnail').naturalWidth > 0, { timeout: 30_000 })
  result.thumbnail = await page.$eval('.upload img.thumbnail', (img) => ({
    src: img.src,
    width: img.naturalWidth,
    height: img.naturalHeight,
    // The placeholder under it: aspect ratio, dominant colour, ThumbHash.
    aspectRatio: img.style.aspectRatio,
    dominantColor: img.dataset.dominantColor,
    preview: img.style.backgroundImage.startsWith('url("data:image/png;base64,'),
  }))
  result.progressShown = await page.$eval('.uppy-StatusBar', (el) => el.innerText).catch(() => '')
  result.pageOrigin = await page.evaluate(() => location.origin)
  await page.screenshot({ path: screenshot, fullPage: true })
  const refused = await refusal(await browser.createBrowserContext())
  console.log(JSON.stringify({ ...seen, result, refused }))
} finally {
  await browser.close()
}

// In `context` (empty storage): the page without a token shows the token
// form; with a token that does not allow the file, the upload's error shows.
async function refusal (context) {
  const bare = await context.newPage()
  await bare.goto(refusingPageUrl.split('#')[0], { waitUntil: 'networkidle0' })
  const tokenFormShown = await bare.$eval('#token-form', (f) => !f.hidden && f.offsetHeight > 0)
  await bare.close()
  const page = await context.newPage()
  await page.goto(refusingPageUrl, { waitUntil: 'networkidle0' })
  const input = await page.waitForSelector('input.uppy-Dashboard-input[type=file]')
  await input.uploadFile(refusedFile)
  const error = await page.waitForSelector('#error:not([hidden])', { timeout: 60_000 })
  return { tokenFormShown, error: await error.evaluate((el) => el.textContent) }
}

// Whether GoldenRetriever's IndexedDB ('uppy-blobs') holds a file blob and
// metadata naming the tus upload URL.
function persisted (page) {
  return page.evaluate(() => new Promise((resolve) => {
    const open = indexedDB.open('uppy-blobs')
    open.onerror = () => resolve(false)
    open.onsuccess = () => {
      const db = open.result
      try {
        const tx = db.transaction(['files', 'metadata'], 'readonly')
        const blobs = tx.objectStore('files').count()
        const metadata = tx.objectStore('metadata').getAll()
        tx.oncomplete = () => resolve(blobs.result > 0 && JSON.stringify(metadata.result).includes('uploadUrl'))
        tx.onerror = () => resolve(false)
      } catch {
        resolve(false)
      } finally {
        db.close()
      }
    }
  }))
}
