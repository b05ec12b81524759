# Switchboard — the two commands of the quick start are `make run` and `make test`.
export PATH := /opt/swift/usr/bin:$(PATH)
SWIFT ?= swift
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: run build release test test-swift test-cli conformance fuzz format clean bench bench-micro soak

## Build the hub (release) and the demo apps (web/build.sh), then run the hub with development defaults on
## $(HOST):$(PORT) in demo mode (demo token endpoint, simulated ticker, chat and ticker namespaces), serving the demo
## apps at / (docs/demos.md).
run: release
	bash scripts/install-web-deps.sh
	bash web/build.sh
	.build/release/switchboard serve --host $(HOST) --port $(PORT) --web-root web/dist --demo

release:
	bash scripts/install-build-deps.sh
	$(SWIFT) build -c release --product switchboard

build:
	bash scripts/install-build-deps.sh
	$(SWIFT) build

## Every test: installs what the tests need, runs each runner, ends with "N passed, N failed".
test:
	bash scripts/test.sh

## Every Autobahn|Testsuite case (517, ~18 min on 2 cores) against the production WebSocket pipeline; see docs/conformance.md.
conformance:
	bash scripts/autobahn.sh full

## Every fuzz target for FUZZ_SECONDS (default 600) under libFuzzer + AddressSanitizer; TARGETS="json utf8" picks some.
## FUZZ_RUNS=10000000 runs that many inputs per target instead. See docs/security.md ("Fuzzing").
fuzz:
	bash scripts/install-build-deps.sh
	bash scripts/fuzz.sh $(or $(FUZZ_SECONDS),600) $(TARGETS)

## Side-by-side benchmark, Switchboard vs Nchan (needs nginx + libnginx-mod-nchan; ~6 min with RUNS=3): see docs/benchmarks.md.
bench: release
	bash Benchmarks/side-by-side.sh

## Soak (not in make test): an hour of churn against the release build; docs/benchmarks.md, "Soak".
soak: release
	python3 -c "import pytest, websockets, matplotlib" 2>/dev/null || python3 -m pip install -q pytest websockets matplotlib
	python3 Benchmarks/soak.py

## Micro benchmarks (ordo-one/benchmark, own package in Benchmarks/, release build of its own): see docs/benchmarks.md.
bench-micro:
	cd Benchmarks && $(SWIFT) package benchmark

format:
	$(SWIFT) format --in-place --recursive Sources Tests

clean:
	rm -rf .build .build-fuzz artifacts
