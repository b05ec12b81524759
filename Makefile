# Switchboard — the two commands of the quick start are `make run` and `make test`.
export PATH := /opt/swift/usr/bin:$(PATH)
SWIFT ?= swift
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: run build release test test-swift test-cli conformance format clean bench

# Namespaces the demo apps (web/, docs/demos.md) need on top of the development defaults: presence and receipts for
# chat:* (the chat demo), conflation by key for ticker:* (the stock ticker). tests/demos reads this line too.
DEMO_FLAGS := --set namespaces.chat.presence=true --set namespaces.chat.receipts=true --set namespaces.ticker.conflation=true

## Build the hub (release) and the demo apps (web/build.sh), then run the hub with development defaults on $(HOST):$(PORT), serving the demos at /.
run: release
	bash web/build.sh
	.build/release/switchboard serve --host $(HOST) --port $(PORT) --web-root web/dist $(DEMO_FLAGS)

release:
	$(SWIFT) build -c release --product switchboard

build:
	$(SWIFT) build

## Every test: installs what the tests need, runs each runner, ends with "N passed, N failed".
test:
	bash scripts/test.sh

## Every Autobahn|Testsuite case (517, ~18 min on 2 cores) against the production WebSocket pipeline; see docs/conformance.md.
conformance:
	bash scripts/autobahn.sh full

## Side-by-side benchmark, Switchboard vs Nchan (needs nginx + libnginx-mod-nchan; ~6 min with RUNS=3): see docs/benchmarks.md.
bench: release
	bash Benchmarks/side-by-side.sh

format:
	$(SWIFT) format --in-place --recursive Sources Tests

clean:
	rm -rf .build artifacts
