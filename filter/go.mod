module github.com/switchboard-dev/switchboard/filter

go 1.22.0

require github.com/tetratelabs/proxy-wasm-go-sdk v0.24.0

require github.com/tetratelabs/wazero v1.9.0
