package importer

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestDecodeMessage_scalars checks the scalar kinds that routes do not use
// yet, through the well-known wrapper messages.
func TestDecodeMessage_scalars(t *testing.T) {
	tests := []struct {
		name  string
		input string
		msg   proto.Message // decoded into
		want  proto.Message
	}{
		{"bool", "value: true", &wrapperspb.BoolValue{}, wrapperspb.Bool(true)},
		{"int32", "value: -5", &wrapperspb.Int32Value{}, wrapperspb.Int32(-5)},
		{"int64-hex", "value: 0x10", &wrapperspb.Int64Value{}, wrapperspb.Int64(16)},
		{"uint64-max", "value: 18446744073709551615", &wrapperspb.UInt64Value{},
			wrapperspb.UInt64(18446744073709551615)},
		{"float-from-int", "value: 2", &wrapperspb.FloatValue{}, wrapperspb.Float(2)},
		{"double", "value: 1.5", &wrapperspb.DoubleValue{}, wrapperspb.Double(1.5)},
		{"string", "value: x", &wrapperspb.StringValue{}, wrapperspb.String("x")},
		{"null-leaves-unset", "value: null", &wrapperspb.StringValue{}, &wrapperspb.StringValue{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := parseNode(t, tt.input)
			if err := newWalker(n).decodeMessage(n, tt.msg.ProtoReflect(), "m"); err != nil {
				t.Fatalf("decodeMessage() = %v", err)
			}
			if diff := cmp.Diff(tt.want, tt.msg, protocmp.Transform()); diff != "" {
				t.Errorf("decodeMessage() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecodeMessage_scalarErrors checks that values of the wrong type or
// out of range are refused with the field's path.
func TestDecodeMessage_scalarErrors(t *testing.T) {
	tests := []struct {
		name  string
		input string
		msg   proto.Message
	}{
		{"bool-from-string", `value: "true"`, &wrapperspb.BoolValue{}},
		{"int32-overflow", "value: 2147483648", &wrapperspb.Int32Value{}},
		{"int64-from-float", "value: 1.5", &wrapperspb.Int64Value{}},
		{"uint32-negative", "value: -1", &wrapperspb.UInt32Value{}},
		{"double-from-string", "value: one", &wrapperspb.DoubleValue{}},
		{"string-from-mapping", "value: {a: b}", &wrapperspb.StringValue{}},
		{"bytes", "value: aGk=", &wrapperspb.BytesValue{}},
		{"not-a-mapping", "[value]", &wrapperspb.StringValue{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := parseNode(t, tt.input)
			err := newWalker(n).decodeMessage(n, tt.msg.ProtoReflect(), "m")
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("decodeMessage() = %v, want an *Error", err)
			}
			if e.Field != "m.value" && e.Field != "m" {
				t.Errorf("decodeMessage() = %v, want field m.value or m", err)
			}
		})
	}
}

// parseNode parses one YAML document and returns its root.
func parseNode(t *testing.T, input string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(input), &doc); err != nil {
		t.Fatalf("parsing %q: %v", input, err)
	}
	return doc.Content[0]
}
