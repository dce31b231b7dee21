package main

import (
	"context"
	"reflect"
	"testing"
	"unsafe"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/wazero/api"
)

// guestModule returns the compiled plugin's wazero module inside a
// proxytest WasmVMContext. proxytest's wrapper neither exposes it nor ever
// calls the guest's proxy_on_delete (its CompleteHttpContext deletes only the
// host-side state), so under it the guest keeps every finished HTTP context
// forever, which Envoy never lets happen. The tests call proxy_on_delete
// themselves, as Envoy does, and read the guest's linear memory size.
//
// The wrapper holds the module only through its wazero.Runtime, whose store
// keeps instantiated modules newest first; the plugin is instantiated last.
// This reads unexported fields of proxytest (v0.24.0) and wazero (v1.9.0),
// both pinned in go.mod; if either changes shape the test fails here, naming
// what it looked for.
func guestModule(t testing.TB, vm proxytest.WasmVMContext) api.Module {
	t.Helper()
	field := func(v reflect.Value, name string) reflect.Value {
		f := v.FieldByName(name)
		if !f.IsValid() {
			t.Fatalf("guestModule: %s has no field %q (proxytest or wazero changed: update guest_test.go)", v.Type(), name)
		}
		return reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem()
	}
	rt := field(reflect.ValueOf(vm).Elem(), "runtime").Elem() // *wazero.runtime
	store := field(rt.Elem(), "store")                        // *wasm.Store
	head := field(store.Elem(), "moduleList")                 // *wasm.ModuleInstance, newest first
	mod, ok := head.Interface().(api.Module)
	if !ok || mod.ExportedFunction("proxy_on_delete") == nil {
		t.Fatalf("guestModule: the newest module does not export proxy_on_delete")
	}
	return mod
}

// deleteContext is Envoy's proxy_on_delete for a finished context.
func deleteContext(t testing.TB, mod api.Module, id uint32) {
	if _, err := mod.ExportedFunction("proxy_on_delete").Call(context.Background(), uint64(id)); err != nil {
		t.Fatalf("proxy_on_delete(%d): %v", id, err)
	}
}
