// Uploads a file to kiln with the unmodified tus-js-client, in small chunks.
// usage: node upload.mjs <api> <token> <file> [interrupt-after-bytes]
// With interrupt-after-bytes, the first upload is aborted once that many
// bytes are acknowledged, and a second tus.Upload resumes it from the
// server's offset (HEAD). Prints one JSON line: {url, resumedFrom, chunks}.
import * as tus from 'tus-js-client';
import fs from 'node:fs';

const [api, token, file, interruptAfter] = process.argv.slice(2);
const data = fs.readFileSync(file);
const common = {
  endpoint: `${api}/v1/uploads`,
  chunkSize: 256 * 1024,
  headers: { Authorization: `Bearer ${token}` },
  metadata: { filename: 'from-tus-js-client.jpg', filetype: 'image/jpeg' },
  retryDelays: [],
};

function run(options, stopAfter) {
  return new Promise((resolve, reject) => {
    let chunks = 0;
    let firstOffset = null;
    const upload = new tus.Upload(data, {
      ...common,
      ...options,
      onError: reject,
      onChunkComplete: (chunkSize, accepted) => {
        chunks += 1;
        if (firstOffset === null) firstOffset = accepted - chunkSize;
        if (stopAfter && accepted >= stopAfter) {
          upload.abort().then(() => resolve({ url: upload.url, aborted: true, chunks, firstOffset }));
        }
      },
      onSuccess: () => resolve({ url: upload.url, aborted: false, chunks, firstOffset }),
    });
    upload.start();
  });
}

const limit = interruptAfter ? Number(interruptAfter) : 0;
const first = await run({}, limit);
let result = { url: first.url, resumedFrom: null, chunks: first.chunks };
if (first.aborted) {
  const second = await run({ uploadUrl: first.url }, 0);
  result = { url: second.url, resumedFrom: second.firstOffset, chunks: first.chunks + second.chunks };
}
console.log(JSON.stringify(result));
