# pingyi — the README's two commands are `make demo` and `make test`.
# Every target builds the release profile only: tests, demo and bench share one build.

# libgomp reads this when the process starts; Tesseract is 7× slower per name without it.
export OMP_THREAD_LIMIT := 1
CARGO ?= cargo
BIN := target/release/pingyi

.PHONY: deps build demo test lint bench accuracy clean

deps:
	@bash scripts/install-deps.sh

build: deps
	$(CARGO) build --release

## The whole job on the built-in example campaign: print, simulate, scan, review hints, tally.
demo: build
	$(BIN) demo --out out/demo

## Everything CI runs: format, lints, unit and end-to-end tests (incl. the browser test).
test: deps
	$(CARGO) fmt --check
	$(CARGO) clippy --release --all-targets -- -D warnings
	$(CARGO) test --release

## Speed: decode-only vs full read vs read+OCR, 100/1,000/5,000 pages, printing; writes BENCHMARKS.md.
bench: build
	$(BIN) bench --out out/bench --write BENCHMARKS.md

## Accuracy on ≥ 5,000 simulated questions per profile (clean, office, hard).
accuracy: build
	$(CARGO) test --release --test accuracy -- --ignored --nocapture

clean:
	rm -rf out
