# kiln — the two commands a fresh machine needs are `make up` and `make test`.
.PHONY: setup build up test cluster fuzz bench load calibrate capacity study study-quick clean

setup:
	scripts/setup.sh

build: setup
	scripts/build-components.sh
	cargo build --release --locked -p kiln-store

# Build, start the local object store and `spin up` on 127.0.0.1:$KILN_PORT.
up:
	scripts/up.sh

# Everything: unit tests, the core's corpus and memory tests, the store's
# tests, and the end-to-end tests against real `spin up` + kiln-store; then
# the deterministic fuzzing pass (fixed seed and runs, fuzz/README.md).
test: build
	cargo test --locked
	scripts/fuzz.sh --ci

# Shared state on Redis, on one machine: redis-server, two `spin up` on it
# (runtime-config.toml + [key_value_store.default] type = "redis"), one
# kiln-store, haproxy round-robin in front; tus uploads alternating,
# racing and surviving a killed instance (tests/tests/redis_cluster.rs; also
# part of `make test`).
cluster: build
	cargo test --locked -p kiln-e2e --test redis_cluster -- --nocapture

# Fuzzes every target for $FUZZ_SECONDS (default 300) each; FUZZ_TARGETS
# picks some (fuzz/README.md). Fails on any crash, printing its input.
fuzz:
	scripts/fuzz.sh --seconds $${FUZZ_SECONDS:-300} $${FUZZ_TARGETS:-}

# One upload vs the native libvips chain (the two headline ratios), each
# format vs vips and cwebp/avifenc/cjpeg, AVIF bytes at equal SSIMULACRA2
# vs avifenc (aom, rav1e), each component under spin up vs
# the same core natively (12 MP photo), kiln's progressive JPEG decoder vs
# jpeg-decoder and djpeg, then the upload path per fan-out
# width x Spin host threads (docs/benchmarks.md).
bench: build
	scripts/setup.sh --study
	cargo run --release --locked -p kiln-bench -- --headline --runs $${RUNS:-5}
	cargo run --release --locked -p kiln-bench -- --quality
	cargo run --release --locked -p kiln-bench -- --runs $${RUNS:-5}
	cargo run --release --locked -p kiln-bench -- --progressive --runs $${RUNS:-5}
	cargo run --release --locked -p kiln-bench -- --fanout --runs $${RUNS:-3}

# Load: 50 uploads at once (half one-shot, half tus), with Spin's default
# host threads and with TOKIO_WORKER_THREADS=8, side by side; prints a table
# and writes bench/results/load.json. LOAD_ARGS='--uploads 20 --threads 8' etc.
load: build
	cargo run --release --locked -p kiln-bench --bin kiln-load -- $${LOAD_ARGS:-}

# Memory model: measure peaks (native heap + linear memory under spin up) on
# the corpus and synthetic sizes, refit, regenerate
# crates/core/src/estimate/calibration.rs (docs/memory-model.md).
calibrate: build
	cargo run --release --locked -p kiln-bench --bin kiln-calibrate -- $${CALIBRATE_ARGS:-}

# Capacity on paper (docs/scaling.md): replicas per component and key-value
# traffic at 1x, 10x and 1,000x today's throughput, from the committed
# bench/results/*.json and kiln's upload logic; times nothing.
capacity:
	cargo run --release --locked -p kiln-bench -- --capacity

clean:
	cargo clean
	rm -rf .kiln .spin

# The glue-cost study: kiln (spin up) vs the machine-offload baseline, the
# native core and libvips/cwebp/avifenc/cjpeg, per stage; then the cost
# model and docs/glue-costs.md. STUDY_ARGS=--quick takes a few minutes.
study: build
	scripts/setup.sh --study
	cargo build --release --locked -p kiln-offload -p kiln-bench
	cargo run --release --locked -p kiln-bench --bin kiln-study -- $${STUDY_ARGS:-}

study-quick:
	$(MAKE) study STUDY_ARGS=--quick
