package importer

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Decoding a document visits each value once per use of an alias that
// leads to it. To keep a small file from expanding into a huge one, the
// visits are limited to expansionFactor times the values in the document,
// and at least minVisits.
const (
	expansionFactor = 10
	minVisits       = 100000
)

// walker holds what the decoders of one document share: the line of each
// field they visited, and the visits left.
type walker struct {
	lines  map[string]int // document field -> line
	visits int            // visits left
}

func newWalker(root *yaml.Node) *walker {
	return &walker{
		lines:  make(map[string]int),
		visits: max(expansionFactor*countNodes(root), minVisits),
	}
}

// countNodes counts the nodes of the tree at n, without following aliases.
func countNodes(n *yaml.Node) int {
	count := 1
	for _, c := range n.Content {
		count += countNodes(c)
	}
	return count
}

// visit records the line of the field at path, resolves an alias and counts
// the node.
func (w *walker) visit(n *yaml.Node, path string) (*yaml.Node, error) {
	w.mark(path, n)
	n = resolve(n)
	w.visits--
	if w.visits < 0 {
		return nil, errorAt(n, path, "the document has too many values once aliases are expanded")
	}
	return n, nil
}

// mark records the line of n as the line of the field at path, unless the
// field already has one.
func (w *walker) mark(path string, n *yaml.Node) {
	if _, ok := w.lines[path]; !ok {
		w.lines[path] = n.Line
	}
}

// line returns the line of the field at path, or of the nearest field that
// contains it.
func (w *walker) line(path string) int {
	for p := path; ; p = parentField(p) {
		if line, ok := w.lines[p]; ok {
			return line
		}
		if p == "" {
			return 0
		}
	}
}

// fields calls fn for each key and value of the mapping n, whose field
// path is path. Keys must be strings and must not repeat.
func (w *walker) fields(n *yaml.Node, path string,
	fn func(key string, k, v *yaml.Node) error) error {

	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, err := w.visit(n.Content[i], path)
		if err != nil {
			return err
		}
		if k.ShortTag() == "!!merge" {
			return errorAt(k, path, "merge keys (<<) are not supported")
		}
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
			return errorAt(k, path, "a key must be a string, not %s", describe(k))
		}
		if line, ok := seen[k.Value]; ok {
			return errorAt(k, joinPath(path, k.Value), "duplicate key (also line %d)", line)
		}
		seen[k.Value] = k.Line
		if err := fn(k.Value, k, n.Content[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names the value of n for an error message.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	v := n.Value
	if len(v) > 40 {
		v = v[:40] + "..."
	}
	switch n.ShortTag() {
	case "!!str":
		return fmt.Sprintf("the string %q", v)
	case "!!int", "!!float":
		return "the number " + v
	case "!!bool":
		return v
	case "!!null":
		return "null"
	}
	return fmt.Sprintf("%s %q", n.ShortTag(), v)
}

// errorAt returns an *Error at the line of n. Parse fills in the file and
// document.
func errorAt(n *yaml.Node, field, format string, args ...any) *Error {
	return &Error{Line: n.Line, Field: field, Reason: fmt.Sprintf(format, args...)}
}

// wrongType returns the error for a value of the wrong type.
func wrongType(n *yaml.Node, field, want string) *Error {
	return errorAt(n, field, "want %s, got %s", want, describe(n))
}

// joinPath joins a field path and the name of a field inside it.
func joinPath(path, name string) string {
	switch {
	case path == "":
		return name
	case name == "":
		return path
	case name[0] == '[':
		return path + name
	}
	return path + "." + name
}

// indexPath returns the path of element i of the list at path.
func indexPath(path string, i int) string {
	return fmt.Sprintf("%s[%d]", path, i)
}

// keyPath returns the path of the map entry key of the map at path.
func keyPath(path, key string) string {
	return fmt.Sprintf("%s[%q]", path, key)
}

// parentField returns the path of the field that contains the field at
// path, or "" at the top.
func parentField(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// fieldMap maps fields of a route to the document fields they came from.
type fieldMap map[string]string

// source returns the document field for the route field f: the mapping of
// the longest mapped prefix of f, followed by the rest of f.
func (m fieldMap) source(f string) string {
	for p := f; ; p = parentField(p) {
		if s, ok := m[p]; ok {
			return joinPath(s, strings.TrimPrefix(f[len(p):], "."))
		}
		if p == "" {
			return f
		}
	}
}

func formatInt(i int64) string   { return strconv.FormatInt(i, 10) }
func formatUint(u uint64) string { return strconv.FormatUint(u, 10) }
