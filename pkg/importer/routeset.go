package importer

import (
	"math"
	"strings"
	"time"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
)

// serverFields are route fields that only the server sets.
var serverFields = map[protoreflect.Name]bool{"version": true, "scope": true}

var durationName = (&durationpb.Duration{}).ProtoReflect().Descriptor().FullName()

// decodeRouteSet decodes a RouteSet document: apiVersion, kind and a list
// of routes.
func decodeRouteSet(w *walker, root *yaml.Node) ([]imported, error) {
	var out []imported
	err := w.fields(root, "", func(key string, k, v *yaml.Node) error {
		w.mark(key, k)
		switch key {
		case "apiVersion", "kind":
			return nil
		case "routes":
			var err error
			out, err = w.decodeRoutes(v)
			return err
		}
		return errorAt(k, key, "unknown field")
	})
	return out, err
}

func (w *walker) decodeRoutes(n *yaml.Node) ([]imported, error) {
	n, err := w.visit(n, "routes")
	if err != nil || isNull(n) {
		return nil, err
	}
	if n.Kind != yaml.SequenceNode {
		return nil, wrongType(n, "routes", "a list of routes")
	}
	out := make([]imported, 0, len(n.Content))
	for i, item := range n.Content {
		path := indexPath("routes", i)
		r := &routecastv1.Route{}
		if err := w.decodeMessage(item, r.ProtoReflect(), path); err != nil {
			return nil, err
		}
		out = append(out, imported{route: r, fields: fieldMap{"": path}})
	}
	return out, nil
}

// decodeMessage decodes a mapping into m the way protojson reads JSON:
// keys are proto field names or JSON names, enums are value names, and a
// google.protobuf.Duration is a string such as "5s". Unlike protojson it
// reports the line and field path of an unknown field, a value of the
// wrong type, a field set twice, or two members of one oneof. Field paths
// use proto names.
func (w *walker) decodeMessage(n *yaml.Node, m protoreflect.Message, path string) error {
	n, err := w.visit(n, path)
	if err != nil || isNull(n) {
		return err
	}
	if n.Kind != yaml.MappingNode {
		return wrongType(n, path, "a mapping")
	}
	md := &messageDecoder{
		w:      w,
		m:      m,
		path:   path,
		set:    make(map[protoreflect.FieldNumber]*yaml.Node),
		oneofs: make(map[protoreflect.Name]protoreflect.Name),
	}
	return w.fields(n, path, md.field)
}

// messageDecoder decodes the fields of one message.
type messageDecoder struct {
	w      *walker
	m      protoreflect.Message
	path   string
	set    map[protoreflect.FieldNumber]*yaml.Node // field -> its key
	oneofs map[protoreflect.Name]protoreflect.Name // oneof -> member set
}

func (md *messageDecoder) field(key string, k, v *yaml.Node) error {
	fields := md.m.Descriptor().Fields()
	fd := fields.ByName(protoreflect.Name(key))
	if fd == nil {
		fd = fields.ByJSONName(key)
	}
	if fd == nil {
		return errorAt(k, joinPath(md.path, key), "unknown field")
	}
	path := joinPath(md.path, string(fd.Name()))
	md.w.mark(path, k)
	if err := md.settable(fd, k, path); err != nil {
		return err
	}
	if isNull(v) {
		return nil
	}
	if err := md.oneMember(fd, k, path); err != nil {
		return err
	}
	return md.w.decodeField(v, md.m, fd, path)
}

// settable checks that the field fd may be set by the key k: once, and
// not if the server sets it.
func (md *messageDecoder) settable(fd protoreflect.FieldDescriptor, k *yaml.Node,
	path string) error {

	if prev, ok := md.set[fd.Number()]; ok {
		return errorAt(k, path, "set twice (also line %d)", prev.Line)
	}
	md.set[fd.Number()] = k
	if md.m.Descriptor().FullName() == routeName && serverFields[fd.Name()] {
		return errorAt(k, path, "is set by the server and must not be set in a file")
	}
	return nil
}

// oneMember checks that fd is the only member of its oneof, if it has one,
// with a value.
func (md *messageDecoder) oneMember(fd protoreflect.FieldDescriptor, k *yaml.Node,
	path string) error {

	od := fd.ContainingOneof()
	if od == nil || od.IsSynthetic() {
		return nil
	}
	if other, ok := md.oneofs[od.Name()]; ok {
		return errorAt(k, path, "cannot be set together with %s: set only one of %s",
			other, oneofNames(od))
	}
	md.oneofs[od.Name()] = fd.Name()
	return nil
}

var routeName = (&routecastv1.Route{}).ProtoReflect().Descriptor().FullName()

func oneofNames(od protoreflect.OneofDescriptor) string {
	var names []string
	for i := range od.Fields().Len() {
		names = append(names, string(od.Fields().Get(i).Name()))
	}
	return strings.Join(names, ", ")
}

// decodeField decodes n into the field fd of m.
func (w *walker) decodeField(n *yaml.Node, m protoreflect.Message,
	fd protoreflect.FieldDescriptor, path string) error {

	switch {
	case fd.IsList():
		return w.decodeList(n, m.Mutable(fd).List(), fd, path)
	case fd.IsMap():
		return w.decodeMap(n, m.Mutable(fd).Map(), fd, path)
	}
	v, err := w.decodeValue(n, fd, path, func() protoreflect.Value { return m.NewField(fd) })
	if err != nil {
		return err
	}
	m.Set(fd, v)
	return nil
}

func (w *walker) decodeList(n *yaml.Node, list protoreflect.List,
	fd protoreflect.FieldDescriptor, path string) error {

	n, err := w.visit(n, path)
	if err != nil {
		return err
	}
	if n.Kind != yaml.SequenceNode {
		return wrongType(n, path, "a list")
	}
	for i, item := range n.Content {
		v, err := w.decodeValue(item, fd, indexPath(path, i), list.NewElement)
		if err != nil {
			return err
		}
		list.Append(v)
	}
	return nil
}

// decodeMap decodes a map with string keys, such as labels.
func (w *walker) decodeMap(n *yaml.Node, mp protoreflect.Map,
	fd protoreflect.FieldDescriptor, path string) error {

	n, err := w.visit(n, path)
	if err != nil {
		return err
	}
	if n.Kind != yaml.MappingNode {
		return wrongType(n, path, "a mapping")
	}
	if fd.MapKey().Kind() != protoreflect.StringKind {
		return errorAt(n, path, "maps with %s keys cannot be set in a file", fd.MapKey().Kind())
	}
	return w.fields(n, path, func(key string, k, v *yaml.Node) error {
		child := keyPath(path, key)
		w.mark(child, k)
		val, err := w.decodeValue(v, fd.MapValue(), child, mp.NewValue)
		if err != nil {
			return err
		}
		mp.Set(protoreflect.ValueOfString(key).MapKey(), val)
		return nil
	})
}

// decodeValue decodes one value of the field fd; newMessage makes the
// message a message value is decoded into.
func (w *walker) decodeValue(n *yaml.Node, fd protoreflect.FieldDescriptor, path string,
	newMessage func() protoreflect.Value) (protoreflect.Value, error) {
	if fd.Kind() == protoreflect.MessageKind {
		if fd.Message().FullName() == durationName {
			return w.decodeDuration(n, path)
		}
		v := newMessage()
		return v, w.decodeMessage(n, v.Message(), path)
	}
	n, err := w.visit(n, path)
	if err != nil {
		return protoreflect.Value{}, err
	}
	return decodeProtoScalar(n, fd, path)
}

func (w *walker) decodeDuration(n *yaml.Node, path string) (protoreflect.Value, error) {
	n, err := w.visit(n, path)
	if err != nil {
		return protoreflect.Value{}, err
	}
	const want = `a duration such as "5s", "1m30s" or "250ms"`
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		return protoreflect.Value{}, wrongType(n, path, want)
	}
	d, err := time.ParseDuration(n.Value)
	if err != nil {
		return protoreflect.Value{}, wrongType(n, path, want)
	}
	return protoreflect.ValueOfMessage(durationpb.New(d).ProtoReflect()), nil
}

// decodeProtoScalar decodes a value of a scalar or enum field.
func decodeProtoScalar(n *yaml.Node, fd protoreflect.FieldDescriptor,
	path string) (protoreflect.Value, error) {
	tag := n.ShortTag()
	if n.Kind != yaml.ScalarNode {
		tag = ""
	}
	switch fd.Kind() {
	case protoreflect.StringKind:
		if tag != "!!str" {
			return protoreflect.Value{}, wrongType(n, path, "a string")
		}
		return protoreflect.ValueOfString(n.Value), nil
	case protoreflect.BoolKind:
		var b bool
		if tag != "!!bool" || n.Decode(&b) != nil {
			return protoreflect.Value{}, wrongType(n, path, "true or false")
		}
		return protoreflect.ValueOfBool(b), nil
	case protoreflect.EnumKind:
		return decodeEnum(n, tag, fd.Enum(), path)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		i, err := decodeInt(n, tag, path, math.MinInt32, math.MaxInt32)
		return protoreflect.ValueOfInt32(int32(i)), err
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		i, err := decodeInt(n, tag, path, math.MinInt64, math.MaxInt64)
		return protoreflect.ValueOfInt64(i), err
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		u, err := decodeUint(n, tag, path, math.MaxUint32)
		return protoreflect.ValueOfUint32(uint32(u)), err
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		u, err := decodeUint(n, tag, path, math.MaxUint64)
		return protoreflect.ValueOfUint64(u), err
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		var f float64
		if (tag != "!!float" && tag != "!!int") || n.Decode(&f) != nil {
			return protoreflect.Value{}, wrongType(n, path, "a number")
		}
		if fd.Kind() == protoreflect.FloatKind {
			return protoreflect.ValueOfFloat32(float32(f)), nil
		}
		return protoreflect.ValueOfFloat64(f), nil
	}
	return protoreflect.Value{}, errorAt(n, path, "fields of type %s cannot be set in a file",
		fd.Kind())
}

func decodeInt(n *yaml.Node, tag, path string, lo, hi int64) (int64, error) {
	var i int64
	if tag != "!!int" || n.Decode(&i) != nil || i < lo || i > hi {
		return 0, wrongType(n, path, "an integer from "+formatInt(lo)+" to "+formatInt(hi))
	}
	return i, nil
}

func decodeUint(n *yaml.Node, tag, path string, hi uint64) (uint64, error) {
	var u uint64
	if tag != "!!int" || n.Decode(&u) != nil || u > hi {
		return 0, wrongType(n, path, "an integer from 0 to "+formatUint(hi))
	}
	return u, nil
}

// decodeEnum decodes an enum value given by name, or by a number the enum
// defines.
func decodeEnum(n *yaml.Node, tag string, ed protoreflect.EnumDescriptor,
	path string) (protoreflect.Value, error) {
	values := ed.Values()
	var ev protoreflect.EnumValueDescriptor
	switch tag {
	case "!!str":
		ev = values.ByName(protoreflect.Name(n.Value))
	case "!!int":
		var i int32
		if n.Decode(&i) == nil {
			ev = values.ByNumber(protoreflect.EnumNumber(i))
		}
	}
	if ev == nil {
		names := make([]string, values.Len())
		for i := range names {
			names[i] = string(values.Get(i).Name())
		}
		return protoreflect.Value{}, wrongType(n, path, "one of "+strings.Join(names, ", "))
	}
	return protoreflect.ValueOfEnum(ev.Number()), nil
}
