#!/usr/bin/env bash
# `make up`: installs what is missing, builds the components and the local
# object store, starts the store, `spin up` and the sweep's scheduler (a
# POST /v1/sweep every KILN_SWEEP_SECONDS), prints URLs and the tokens.
# Environment: KILN_PORT (3000), KILN_S3_PORT (9000), KILN_TOKEN (a random
# dev token kept in .kiln/dev-token), KILN_EVENTS_TOKEN (the secret the
# store's notifications carry, kept in .kiln/events-token), KILN_HOST
# (127.0.0.1), KILN_SWEEP_SECONDS (60; 0 = no sweep), TOKIO_WORKER_THREADS
# (Spin's host threads; 4 per core, at least 8). Spin reads
# runtime-config.toml (outbound connection pooling off; see its comments).
set -euo pipefail
cd "$(dirname "$0")/.."

host="${KILN_HOST:-127.0.0.1}"
port="${KILN_PORT:-3000}"
s3_port="${KILN_S3_PORT:-9000}"
mkdir -p .kiln/store
token() { [ -s "$1" ] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$1"; cat "$1"; }
KILN_TOKEN="${KILN_TOKEN:-$(token .kiln/dev-token)}"
KILN_EVENTS_TOKEN="${KILN_EVENTS_TOKEN:-$(token .kiln/events-token)}"
sweep_seconds="${KILN_SWEEP_SECONDS:-60}"
access_key="${KILN_S3_ACCESS_KEY:-kiln}"
secret_key="${KILN_S3_SECRET_KEY:-kiln-dev-secret}"
bucket=kiln

scripts/setup.sh
scripts/build-components.sh >/dev/null
cargo build --release --locked -q -p kiln-store
spin="$(scripts/spin-path.sh)"

# New objects under originals/ are announced to kiln's event route.
./target/release/kiln-store --host "$host" --port "$s3_port" --root .kiln/store \
  --access-key "$access_key" --secret-key "$secret_key" --bucket "$bucket" \
  --notify-url "${KILN_NOTIFY_URL:-http://$host:$port/v1/events}" \
  --notify-token "$KILN_EVENTS_TOKEN" --notify-prefix originals/ &
store_pid=$!
sweeper_pid=""
trap 'kill $store_pid $sweeper_pid 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/$host/$s3_port") 2>/dev/null && break
  sleep 0.1
done

cat <<INFO

kiln is starting.
  API            http://$host:$port
    POST /v1/images         (whole image -> 4 variants + manifest)
    GET  /v1/uploads/<id>   (manifest)
    POST /v1/events         (object-storage notifications, events token)
    POST /v1/sweep          (recovery and clean-up; run every ${sweep_seconds}s here)
    POST /v1/upload-tokens  (scoped upload tokens for browsers)
    GET  /upload/           (the upload page: open #token=<scoped token>, README "The upload page")
    POST /v1/convert/webp   POST /v1/convert/avif
    POST /v1/convert/jpeg   POST /v1/thumbnail
  dev token      $KILN_TOKEN
  events token   $KILN_EVENTS_TOKEN (the store's notifications carry it)
  object store   http://$host:$s3_port  bucket '$bucket'
                 access key '$access_key'  secret key '$secret_key'
                 files in $(pwd)/.kiln/store/$bucket
  variants       http://$host:$s3_port/$bucket/variants/... (public GET)

try:
  curl -sS -H "Authorization: Bearer $KILN_TOKEN" --data-binary @photo.jpg \\
       "http://$host:$port/v1/images?filename=photo.jpg"
  curl -sS -H "Authorization: Bearer $KILN_TOKEN" --data-binary @photo.jpg \\
       http://$host:$port/v1/convert/webp -o photo.webp
  (or drop a file into s3://$bucket/originals/ with any S3 client)

INFO

# The sweep's scheduler: re-drives stalled uploads, reaps expired ones,
# converts originals whose event was lost (docs/design.md, "Recovery").
if [ "$sweep_seconds" -gt 0 ]; then
  (
    while sleep "$sweep_seconds"; do
      curl -fsS -o /dev/null -X POST -H "Authorization: Bearer $KILN_TOKEN" "http://$host:$port/v1/sweep" \
        || echo "kiln: the sweep failed (is spin up running?)" >&2
    done
  ) &
  sweeper_pid=$!
fi

export SPIN_VARIABLE_AUTH_TOKEN="$KILN_TOKEN"
export SPIN_VARIABLE_EVENTS_TOKEN="$KILN_EVENTS_TOKEN"
export SPIN_VARIABLE_S3_ENDPOINT="http://$host:$s3_port"
export SPIN_VARIABLE_S3_ACCESS_KEY="$access_key"
export SPIN_VARIABLE_S3_SECRET_KEY="$secret_key"
export SPIN_VARIABLE_S3_BUCKET="$bucket"
export SPIN_VARIABLE_PUBLIC_BASE_URL="http://$host:$s3_port/$bucket"
# Spin runs each request on a tokio worker and cannot preempt a CPU-bound
# guest: with one worker per core (its default) a 200 ms JPEG conversion
# waits behind the AVIF and WebP encodes of the same upload, and every
# other request waits too. More workers than cores let the OS time-slice
# them instead (docs/benchmarks.md "Fan-out"; README "Host threads").
export TOKIO_WORKER_THREADS="${TOKIO_WORKER_THREADS:-$(( $(nproc) * 4 > 8 ? $(nproc) * 4 : 8 ))}"
echo "  host threads   TOKIO_WORKER_THREADS=$TOKIO_WORKER_THREADS"
"$spin" up --from spin.toml --listen "$host:$port" --max-instance-memory 134217728 \
  --runtime-config-file runtime-config.toml
