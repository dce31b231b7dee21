# Switchboard. `make test` is what CI runs (see README).
GO ?= go
BIN := bin/switchboard

.PHONY: all build run test deps vet unit filter wasm-check bench clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/switchboard

run: build
	$(BIN) up

# deps installs what the tests need and is missing (redis-server, PostgreSQL).
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

# filter.wasm for Envoy needs TinyGo >= 0.32 (0.33 tested target).
filter:
	@if command -v tinygo >/dev/null 2>&1; then \
		cd filter/wasm && tinygo build -o ../../bin/filter.wasm -scheduler=none -target=wasi . && echo "built bin/filter.wasm"; \
	else \
		echo "tinygo is not on PATH: cannot build bin/filter.wasm (Envoy needs a TinyGo build; see docs/envoy.md)"; exit 1; \
	fi

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
	cd filter && $(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin
