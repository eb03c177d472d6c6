package store

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/internal/benchdata"
)

// TestEncodeBody checks that encodeBody gives what a deterministic
// proto.Marshal gives for the route with the scope set and no version,
// for routes of every shape: every field of every nested message set,
// labels with empty keys and values or none, no owner, a scope and a
// version already set, unknown fields.
func TestEncodeBody(t *testing.T) {
	rs, err := benchdata.Routes("a/b", "r", 5)
	if err != nil {
		t.Fatal(err)
	}
	full := new(routecastv1.Route)
	fill(full.ProtoReflect(), 0)
	rs = append(rs, full,
		&routecastv1.Route{Name: "bare"},
		&routecastv1.Route{Name: "empty-label", Labels: map[string]string{"": "", "k": "", "é": "ü"}},
		&routecastv1.Route{Name: "scoped", Scope: "x/y", Version: 99, Owner: "o"},
		&routecastv1.Route{Scope: "a/b", Labels: map[string]string{"only": "labels"}},
	)
	unknown := proto.Clone(rs[0]).(*routecastv1.Route)
	unknown.ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 100, protowire.VarintType), 5))
	rs = append(rs, unknown)

	for i, r := range rs {
		sent := proto.Clone(r)
		want := proto.Clone(r).(*routecastv1.Route)
		want.Scope, want.Version = "a/b", 0
		wantBytes, err := marshalOpts.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		got, err := encodeBody("a/b", r)
		if err != nil {
			t.Fatalf("route %d: %v", i, err)
		}
		if !bytes.Equal(got, wantBytes) {
			t.Errorf("route %d (%s): encodeBody gives\n%x\nwant\n%x", i, r.GetName(), got, wantBytes)
		}
		if !proto.Equal(r, sent) {
			t.Errorf("route %d: encodeBody changed the route", i)
		}
	}
}

// TestEncodeBody_InvalidUTF8 checks that a route's own strings are held
// to UTF-8 as proto.Marshal holds them, and that Apply stores nothing of
// a batch with such a route.
func TestEncodeBody_InvalidUTF8(t *testing.T) {
	for _, r := range []*routecastv1.Route{
		{Name: "a\xff"},
		{Name: "a", Owner: "o\xff"},
		{Name: "a", Labels: map[string]string{"k\xff": "v"}},
		{Name: "a", Labels: map[string]string{"k": "v\xff"}},
	} {
		if _, err := encodeBody("a/b", r); err == nil || !strings.Contains(err.Error(), "invalid UTF-8") {
			t.Errorf("encodeBody(%v): err = %v, want invalid UTF-8", r, err)
		}
		if _, err := encodeBody("a/\xff", &routecastv1.Route{Name: "a"}); err == nil {
			t.Error("encodeBody with an invalid scope: no error")
		}
	}
	s, err := OpenBolt(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	_, err = s.Apply(ctx, "a/b", Batch{Puts: []*routecastv1.Route{{Name: "good"}, {Name: "bad", Owner: "o\xff"}}})
	if err == nil || !strings.Contains(err.Error(), `route "bad"`) {
		t.Fatalf("Apply of a batch with an invalid route: err = %v, want one naming it", err)
	}
	if rs, _, err := s.List(ctx, "a/b", "", 0); err != nil || len(rs) != 0 {
		t.Errorf("after the refused batch: List = %v, %v; want nothing stored", rs, err)
	}
}

// fill sets every field of m, recursively to depth 3, to a value that is
// not the zero one, with two entries in every list and map.
func fill(m protoreflect.Message, depth int) {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		if oneof := f.ContainingOneof(); oneof != nil && m.WhichOneof(oneof) != nil {
			continue
		}
		switch {
		case f.IsMap():
			mp := m.Mutable(f).Map()
			for j := range 2 {
				v := value(m, f.MapValue(), depth, j)
				if !v.IsValid() {
					return
				}
				mp.Set(value(m, f.MapKey(), depth, j).MapKey(), v)
			}
		case f.IsList():
			l := m.Mutable(f).List()
			for j := range 2 {
				if f.Kind() == protoreflect.MessageKind {
					if depth >= 3 {
						break
					}
					e := l.NewElement()
					fill(e.Message(), depth+1)
					l.Append(e)
					continue
				}
				l.Append(value(m, f, depth, j))
			}
		case f.Kind() == protoreflect.MessageKind:
			if depth < 3 {
				fill(m.Mutable(f).Message(), depth+1)
			}
		default:
			m.Set(f, value(m, f, depth, 1))
		}
	}
}

// value returns a scalar value for f, the j-th of its list or map.
func value(m protoreflect.Message, f protoreflect.FieldDescriptor, depth, j int) protoreflect.Value {
	switch f.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(fmt.Sprintf("%s-%d-%d", f.Name(), depth, j))
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte{byte(j + 1)})
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(true)
	case protoreflect.EnumKind:
		return protoreflect.ValueOfEnum(f.Enum().Values().Get(f.Enum().Values().Len() - 1).Number())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(j + 7))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(int64(j + 7))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(j + 7))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(uint64(j + 7))
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(j) + 0.5)
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(float64(j) + 0.5)
	case protoreflect.MessageKind:
		if depth >= 3 {
			return protoreflect.Value{}
		}
		v := m.NewField(f)
		fill(v.Message(), depth+1)
		return v
	}
	panic(fmt.Sprintf("fill: kind %v", f.Kind()))
}
