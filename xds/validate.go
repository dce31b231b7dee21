package xds

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"sigs.k8s.io/yaml"

	// Every extension type the resources and the bootstrap use, registered so
	// that Anys resolve in strict protojson and in DeepValidate.
	_ "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/wasm/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/wasm/v3"
	_ "google.golang.org/protobuf/types/known/wrapperspb"
)

type allValidator interface{ ValidateAll() error }

// DeepValidate runs the generated ValidateAll on m and on every message
// nested in it, unpacking every Any (the generated validators stop at Any).
// An Any whose type is not registered is an error.
func DeepValidate(m proto.Message) error {
	var errs []error
	deepValidate(m.ProtoReflect(), string(m.ProtoReflect().Descriptor().FullName()), &errs, true)
	return errors.Join(errs...)
}

func deepValidate(m protoreflect.Message, path string, errs *[]error, top bool) {
	if v, ok := m.Interface().(allValidator); ok && top {
		if err := v.ValidateAll(); err != nil {
			*errs = append(*errs, fmt.Errorf("%s: %w", path, err))
		}
	}
	if a, ok := m.Interface().(*anypb.Any); ok {
		inner, err := a.UnmarshalNew()
		if err != nil {
			*errs = append(*errs, fmt.Errorf("%s: unpack %s: %w", path, a.GetTypeUrl(), err))
			return
		}
		// ValidateAll of the unpacked message covers its own non-Any fields;
		// recursion below finds further Anys.
		deepValidate(inner.ProtoReflect(), path+"("+string(inner.ProtoReflect().Descriptor().FullName())+")", errs, true)
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		name := path + "." + string(fd.Name())
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				deepValidate(l.Get(i).Message(), fmt.Sprintf("%s[%d]", name, i), errs, false)
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				deepValidate(mv.Message(), fmt.Sprintf("%s[%v]", name, k.Interface()), errs, false)
				return true
			})
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			deepValidate(v.Message(), name, errs, false)
		}
		return true
	})
}

// StrictRoundTrip marshals m with protojson and unmarshals it strictly
// (unknown fields and unresolvable Any types are errors) into a new message,
// which must equal m.
func StrictRoundTrip(m proto.Message) error {
	js, err := protojson.Marshal(m)
	if err != nil {
		return fmt.Errorf("marshal %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	back := m.ProtoReflect().New().Interface()
	if err := (protojson.UnmarshalOptions{}).Unmarshal(js, back); err != nil {
		return fmt.Errorf("strict unmarshal %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	if !proto.Equal(m, back) {
		return fmt.Errorf("%s: protojson round trip changed the message", m.ProtoReflect().Descriptor().FullName())
	}
	return nil
}

// ToYAML renders a message as YAML (protojson with proto field names).
func ToYAML(m proto.Message) ([]byte, error) {
	js, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return nil, err
	}
	return yaml.JSONToYAML(js)
}

// FromYAML decodes YAML strictly into m: YAML to JSON, then protojson with
// unknown fields rejected.
func FromYAML(data []byte, m proto.Message) error {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return fmt.Errorf("yaml: %w", err)
	}
	if err := (protojson.UnmarshalOptions{}).Unmarshal(js, m); err != nil {
		return fmt.Errorf("decode %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return nil
}
