package importer

import (
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// nodeType is the type of fields that accept any value unchecked.
var nodeType = reflect.TypeFor[*yaml.Node]()

// decodeStrict decodes n into v, which must be settable. Unlike
// yaml.Node.Decode it rejects what it does not know: every key of a
// mapping must name a field of the struct by its yaml tag, and every scalar
// must have the type of its field (a quoted "80" is not a number, and an
// unquoted 80 is not a string). A field of type *yaml.Node takes any value.
// Null leaves the zero value.
func (w *walker) decodeStrict(n *yaml.Node, v reflect.Value, path string) error {
	n, err := w.visit(n, path)
	if err != nil {
		return err
	}
	if isNull(n) {
		v.SetZero()
		return nil
	}
	if v.Type() == nodeType {
		v.Set(reflect.ValueOf(n))
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer:
		e := reflect.New(v.Type().Elem())
		if err := w.decodeStrict(n, e.Elem(), path); err != nil {
			return err
		}
		v.Set(e)
		return nil
	case reflect.Struct:
		return w.decodeStruct(n, v, path)
	case reflect.Slice:
		return w.decodeSlice(n, v, path)
	case reflect.Map:
		return w.decodeStringMap(n, v, path)
	}
	return decodeGoScalar(n, v, path)
}

func (w *walker) decodeStruct(n *yaml.Node, v reflect.Value, path string) error {
	if n.Kind != yaml.MappingNode {
		return wrongType(n, path, "a mapping")
	}
	return w.fields(n, path, func(key string, k, val *yaml.Node) error {
		child := joinPath(path, key)
		i, ok := fieldByTag(v.Type(), key)
		if !ok {
			return errorAt(k, child, "unknown field")
		}
		w.mark(child, k)
		return w.decodeStrict(val, v.Field(i), child)
	})
}

// fieldByTag returns the index of the field of struct type t whose yaml tag
// names key.
func fieldByTag(t reflect.Type, key string) (int, bool) {
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == key {
			return i, true
		}
	}
	return 0, false
}

func (w *walker) decodeSlice(n *yaml.Node, v reflect.Value, path string) error {
	if n.Kind != yaml.SequenceNode {
		return wrongType(n, path, "a list")
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		if err := w.decodeStrict(item, s.Index(i), indexPath(path, i)); err != nil {
			return err
		}
	}
	v.Set(s)
	return nil
}

// decodeStringMap decodes a mapping into a map with string keys.
func (w *walker) decodeStringMap(n *yaml.Node, v reflect.Value, path string) error {
	if n.Kind != yaml.MappingNode {
		return wrongType(n, path, "a mapping")
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	err := w.fields(n, path, func(key string, k, val *yaml.Node) error {
		child := keyPath(path, key)
		w.mark(child, k)
		e := reflect.New(v.Type().Elem()).Elem()
		if err := w.decodeStrict(val, e, child); err != nil {
			return err
		}
		m.SetMapIndex(reflect.ValueOf(key), e)
		return nil
	})
	if err != nil {
		return err
	}
	v.Set(m)
	return nil
}

// decodeGoScalar decodes a string, integer or boolean.
func decodeGoScalar(n *yaml.Node, v reflect.Value, path string) error {
	switch v.Kind() {
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
			return wrongType(n, path, "a string")
		}
		v.SetString(n.Value)
	case reflect.Int, reflect.Int32, reflect.Int64:
		var i int64
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil {
			return wrongType(n, path, "an integer")
		}
		if v.OverflowInt(i) {
			return errorAt(n, path, "%d is out of range", i)
		}
		v.SetInt(i)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			return wrongType(n, path, "true or false")
		}
		v.SetBool(b)
	default:
		panic(fmt.Sprintf("importer: no strict decoding into %s", v.Type()))
	}
	return nil
}
