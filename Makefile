# kiln — the two commands a fresh machine needs are `make up` and `make test`.
.PHONY: setup build up test bench calibrate clean

setup:
	scripts/setup.sh

build: setup
	scripts/build-components.sh
	cargo build --release --locked -p kiln-store

# Build, start the local object store and `spin up` on 127.0.0.1:$KILN_PORT.
up:
	scripts/up.sh

# Everything: unit tests, the core's corpus and memory tests, the store's
# tests, and the end-to-end tests against real `spin up` + kiln-store.
test: build
	cargo test --locked

# Each component under spin up vs the same core natively (12 MP photo),
# then the upload path per fan-out width x Spin host threads.
bench: build
	cargo run --release --locked -p kiln-bench -- --runs $${RUNS:-5}
	cargo run --release --locked -p kiln-bench -- --fanout --runs $${RUNS:-3}

# Memory model: measure peaks (native heap + linear memory under spin up) on
# the corpus and synthetic sizes, refit, regenerate
# crates/core/src/estimate/calibration.rs (docs/memory-model.md).
calibrate: build
	cargo run --release --locked -p kiln-bench --bin kiln-calibrate -- $${CALIBRATE_ARGS:-}

clean:
	cargo clean
	rm -rf .kiln .spin
