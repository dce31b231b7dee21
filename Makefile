# Switchboard. `make test` is what CI runs (see README).
GO ?= go
BIN := bin/switchboard

.PHONY: all build run test deps vet unit filter wasm-check bench loadtest loadtest-ladder test-cluster loadtest-flood loadtest-fairness soak-dedup clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/switchboard

run: build
	$(BIN) up

# deps installs what the tests need and is missing (redis-server, PostgreSQL, Chromium).
deps:
	@bash scripts/install-test-deps

vet:
	$(GO) vet ./...
	cd filter && $(GO) vet ./...

unit:
	$(GO) test -count=1 ./...
	cd filter && $(GO) test -count=1 ./...

# The Wasm plugin must at least compile for wasip1 with the Go toolchain (the
# loadable module needs TinyGo: see `make filter`).
wasm-check:
	cd filter && GOOS=wasip1 GOARCH=wasm $(GO) build -o /dev/null ./wasm

test: deps vet unit wasm-check

# filter.wasm for Envoy needs TinyGo >= 0.32 (0.33 is what the filter module
# targets: go 1.22 line, Go 1.23 standard library). The Go toolchain can only
# check that the plugin compiles (wasm-check): under it the SDK links a mock
# host and the module exports no proxy_* functions. See docs/wasm.md.
filter:
	@if command -v tinygo >/dev/null 2>&1; then \
		mkdir -p bin && \
		(cd filter/wasm && tinygo build -o ../../bin/filter.wasm -scheduler=none -target=wasi .) && \
		echo "built bin/filter.wasm; run the plugin tests on it with:" && \
		echo "  cd filter && SWITCHBOARD_FILTER_WASM=$$(pwd)/bin/filter.wasm go test -count=1 ./wasm"; \
	else \
		echo "make filter: tinygo is not on PATH, so bin/filter.wasm was NOT built." >&2; \
		echo "Install TinyGo >= 0.32 (0.33 recommended) and run 'make filter' again; see docs/wasm.md." >&2; \
		exit 1; \
	fi

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
	cd filter && $(GO) test -run '^$$' -bench . -benchmem ./...

# loadtest runs a longer load scenario (default loadtest/scenarios/canary-stage.json)
# through the vegeta engine against a private stack (serve, edge, ingest,
# worker, redis-server on loopback) and prints its summary; the JSON result
# is written to bin/loadtest-result.json. `make test` runs the short scenario
# inside the end-to-end rollout walk.
LOADTEST_SCENARIO ?= loadtest/scenarios/canary-stage.json
loadtest:
	@mkdir -p bin
	SWITCHBOARD_LOADTEST_SCENARIO=$(LOADTEST_SCENARIO) SWITCHBOARD_LOADTEST_OUT=$(CURDIR)/bin/loadtest-result.json \
		$(GO) test -count=1 -v -timeout 20m -run '^TestLoadScenario$$' ./e2e/

# loadtest-ladder runs the runtime (serve, edge, ingest, worker, redis-server
# as separate processes) and the minimal single-process pipeline
# (loadtest/minimal: Slack signature check, asynq enqueue, asynq workers
# POSTing to the sink) back to back at each rate of LADDER_RATES, and prints
# a table (2xx share, end-to-end p50/p99, delivered, CPU seconds per 1000
# delivered events of each, their ratio) to stdout and bin/ladder.txt.
# Long: about (step + drain + 3 s) x 2 per rate. SWITCHBOARD_CPUPROFILE_DIR=DIR
# in the environment makes every runtime process write its CPU profile there.
LADDER_RATES ?= 250,500,1000,1500,2000
LADDER_STEP ?= 20s
LADDER_DRAIN ?= 5s
loadtest-ladder:
	@mkdir -p bin
	SWITCHBOARD_LOADTEST_LADDER=$(LADDER_RATES) SWITCHBOARD_LOADTEST_STEP=$(LADDER_STEP) SWITCHBOARD_LOADTEST_DRAIN=$(LADDER_DRAIN) \
		SWITCHBOARD_LADDER_OUT=$(CURDIR)/bin/ladder.txt \
		$(GO) test -count=1 -v -timeout 90m -run '^TestLoadLadder$$' ./e2e/

# test-cluster runs the tests against a private 3-master Redis Cluster (with a
# replica each) and a Sentinel group (primary, 2 replicas, 3 Sentinels), each
# with a failover under load (docs/scaling.md). `make test` skips them: they
# start 6 and 5 redis-servers (about 5 minutes on two shared cores, most of it the reshard-on-cluster test).
test-cluster: deps
	SWITCHBOARD_CLUSTER_TESTS=1 $(GO) test -count=1 -v -timeout 10m -run 'Cluster|Sentinel' ./servicetest/ ./queue/ ./worker/ ./cmd/switchboard/

# loadtest-flood measures the forged-flood quarantine: valid Slack traffic
# to three ingress ids (50/s, 32 s) through the stack without a flood, with
# forged requests to a fourth ingress id at 10x that rate (ordinary and
# 192 KiB bodies), and with the same floods on an edge whose quarantine is
# off; prints the valid traffic's edge and end-to-end p50/p99, and the edge's
# CPU seconds, of each run (and to bin/flood.txt). About 5 minutes.
loadtest-flood:
	@mkdir -p bin
	SWITCHBOARD_LOADTEST_FLOOD=1 SWITCHBOARD_FLOOD_OUT=$(CURDIR)/bin/flood.txt \
		$(GO) test -count=1 -v -timeout 20m -run '^TestLoadFlood$$' ./e2e/

# loadtest-fairness measures tenant fairness (docs/scaling.md, "Tenant
# fairness"; figures in docs/benchmarks.md): four probe organisations, the
# first one "noisy". Each run starts its own private stack:
#   fairness-baseline  every organisation at 10/s, fast agents
#   fairness           the noisy one at 10x (100/s) to an agent taking 1 s
#   fairness-limited   the same with limits set on it (20/s, max_in_flight 4)
#   fairness-unfair    the fairness scenario on a worker without fairness
#                      (--shard-concurrency 1: one task per shard at a time;
#                      expected to fail its others_e2e_p99 threshold)
# JSON results in bin/loadtest-<run>.json; the others' end-to-end p99 is the
# figure (others_e2e_p99_ms). About 8 minutes.
FAIRNESS_RUNS ?= fairness-baseline fairness fairness-limited fairness-unfair
loadtest-fairness:
	@mkdir -p bin
	@for r in $(FAIRNESS_RUNS); do \
		s=$$r; args=""; \
		if [ $$r = fairness-unfair ]; then s=fairness; args="--shard-concurrency 1"; fi; \
		echo "== $$r (loadtest/scenarios/$$s.json $$args)"; \
		SWITCHBOARD_LOADTEST_SCENARIO=loadtest/scenarios/$$s.json SWITCHBOARD_LOADTEST_OUT=$(CURDIR)/bin/loadtest-$$r.json \
		SWITCHBOARD_LOADTEST_WORKER_ARGS="$$args" \
			$(GO) test -count=1 -v -timeout 20m -run '^TestLoadScenario$$' ./e2e/ || [ $$r = fairness-unfair ] || exit 1; \
	done

# soak-dedup is the sustained run of the bounded dedup memory: events at
# SOAK_RATE/s for SOAK_DURATION with short horizons, Redis used_memory sampled
# every 10 s (docs/benchmarks.md, "Redis memory per deduplicated event").
SOAK_DURATION ?= 5m
SOAK_RATE ?= 100
soak-dedup:
	SWITCHBOARD_DEDUP_SOAK=$(SOAK_DURATION) SWITCHBOARD_DEDUP_SOAK_RATE=$(SOAK_RATE) \
		$(GO) test -count=1 -v -timeout 60m -run '^TestDedupMemoryFlat$$' ./worker/

clean:
	rm -rf bin
