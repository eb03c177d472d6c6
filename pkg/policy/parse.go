package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"go.yaml.in/yaml/v3"
)

// file is the YAML form of a policy document.
type file struct {
	Rules []rule `yaml:"rules"`
}

// rule is the YAML form of one rule.
type rule struct {
	ID       string   `yaml:"id"`
	IDPrefix string   `yaml:"id_prefix"`
	Admin    bool     `yaml:"admin"`
	Read     []string `yaml:"read"`
	Write    []string `yaml:"write"`
}

// ParseError is a mistake in a policy document, with where it is.
type ParseError struct {
	// Line is the line of the document the mistake is on, counting from 1.
	Line int
	// Field names the value at fault, such as "rules[1].read[0]"; it is
	// empty for the document as a whole.
	Field string
	// Err says what is wrong; it wraps one of the errors of this package.
	Err error
}

// Error returns the line, the field and what is wrong, in that order.
func (e *ParseError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("line %d: %s: %v", e.Line, e.Field, e.Err)
}

// Unwrap returns Err, so that errors.Is finds the sentinel errors.
func (e *ParseError) Unwrap() error { return e.Err }

// Parse parses a policy document. Fields the format does not know are
// errors, and every error names the line and the field at fault. A document
// without rules is valid and denies everything.
func Parse(data []byte) (*Policy, error) {
	p, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return p, nil
}

// Load reads and parses the policy file at path. Its errors name the file.
func Load(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	p, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("policy: %s: %w", path, err)
	}
	return p, nil
}

func parse(data []byte) (*Policy, error) {
	f, err := decode(data)
	if err != nil {
		return nil, err
	}
	positions := rulePositions(data)
	p := &Policy{grants: make([]grant, 0, len(f.Rules))}
	for i, r := range f.Rules {
		g, err := r.compile(i, positions.at(i))
		if err != nil {
			return nil, err
		}
		p.grants = append(p.grants, g)
	}
	return p, nil
}

// decode decodes the one YAML document in data strictly: a field that file
// or rule does not have is an error.
func decode(data []byte) (file, error) {
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return file{}, typeError{te}
		}
		return file{}, err
	}

	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
		return f, nil
	case err != nil:
		return file{}, err
	default:
		return file{}, &ParseError{Line: extra.Line, Err: ErrExtraDocument}
	}
}

// typeError shows the errors of a *yaml.TypeError, each of which names its
// line, on one line.
type typeError struct{ *yaml.TypeError }

func (e typeError) Error() string { return strings.Join(e.Errors, "; ") }
func (e typeError) Unwrap() error { return e.TypeError }

// compile checks the rule at index i, found at pos, and turns it into a
// grant.
func (r rule) compile(i int, pos rulePos) (grant, error) {
	field := fmt.Sprintf("rules[%d]", i)
	who, err := r.matcher(field, pos)
	if err != nil {
		return grant{}, err
	}
	read, err := compilePatterns(r.Read, field, "read", pos)
	if err != nil {
		return grant{}, err
	}
	write, err := compilePatterns(r.Write, field, "write", pos)
	if err != nil {
		return grant{}, err
	}
	if !r.Admin && len(read) == 0 && len(write) == 0 {
		return grant{}, &ParseError{Line: pos.line, Field: field, Err: ErrNoGrant}
	}
	return grant{who: who, admin: r.Admin, read: slices.Concat(read, write), write: write}, nil
}

// matcher checks the rule's id or id_prefix and returns what it matches.
func (r rule) matcher(field string, pos rulePos) (idMatcher, error) {
	switch {
	case r.ID != "" && r.IDPrefix != "":
		line := pos.keyLine("id_prefix")
		return idMatcher{}, &ParseError{Line: line, Field: field, Err: ErrRuleID}
	case r.ID == "" && r.IDPrefix == "":
		return idMatcher{}, &ParseError{Line: pos.line, Field: field, Err: ErrRuleID}
	}

	key, value := "id", r.ID
	if r.IDPrefix != "" {
		key, value = "id_prefix", r.IDPrefix
	}
	fail := func(err error) (idMatcher, error) {
		return idMatcher{}, &ParseError{Line: pos.keyLine(key), Field: field + "." + key, Err: err}
	}
	id, err := spiffeid.FromString(value)
	if err != nil {
		return fail(fmt.Errorf("%w %q: %w", ErrBadID, value, err))
	}
	if key == "id" && id.Path() == "" {
		return fail(fmt.Errorf("%w %q: an exact id needs a path; "+
			"use id_prefix for a whole trust domain", ErrBadID, value))
	}
	return idMatcher{id: id, prefix: key == "id_prefix"}, nil
}

// compilePatterns parses the scope patterns under key of a rule.
func compilePatterns(list []string, field, key string, pos rulePos) ([]pattern, error) {
	patterns := make([]pattern, 0, len(list))
	for j, s := range list {
		p, err := parsePattern(s)
		if err != nil {
			return nil, &ParseError{
				Line:  pos.itemLine(key, j),
				Field: fmt.Sprintf("%s.%s[%d]", field, key, j),
				Err:   err,
			}
		}
		patterns = append(patterns, p)
	}
	return patterns, nil
}

// rulePos is where a rule and its fields are in the document.
type rulePos struct {
	line      int
	keyLines  map[string]int   // line of each key of the rule
	itemLines map[string][]int // lines of the items of each list-valued key
}

// keyLine returns the line of key, or the rule's when the key is not there.
func (p rulePos) keyLine(key string) int {
	if line, ok := p.keyLines[key]; ok {
		return line
	}
	return p.line
}

// itemLine returns the line of item j of the list under key.
func (p rulePos) itemLine(key string, j int) int {
	if lines := p.itemLines[key]; j < len(lines) {
		return lines[j]
	}
	return p.keyLine(key)
}

// positions holds a rulePos for each rule, in order.
type positions []rulePos

func (ps positions) at(i int) rulePos {
	if i < len(ps) {
		return ps[i]
	}
	return rulePos{}
}

// rulePositions finds the rules of a document that decode accepted, so that
// errors about their values can name lines.
func rulePositions(data []byte) positions {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil || len(root.Content) == 0 {
		return nil
	}
	seq := mappingValue(root.Content[0], "rules")
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return nil
	}
	ps := make(positions, len(seq.Content))
	for i, n := range seq.Content {
		ps[i] = positionOf(n)
	}
	return ps
}

// positionOf records the lines of a rule's mapping node.
func positionOf(n *yaml.Node) rulePos {
	p := rulePos{line: n.Line, keyLines: map[string]int{}, itemLines: map[string][]int{}}
	for k := 0; n.Kind == yaml.MappingNode && k+1 < len(n.Content); k += 2 {
		key, value := n.Content[k], n.Content[k+1]
		p.keyLines[key.Value] = key.Line
		for _, item := range value.Content {
			p.itemLines[key.Value] = append(p.itemLines[key.Value], item.Line)
		}
	}
	return p
}

// mappingValue returns the value under key in a mapping node, or nil.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	for k := 0; n.Kind == yaml.MappingNode && k+1 < len(n.Content); k += 2 {
		if n.Content[k].Value == key {
			return n.Content[k+1]
		}
	}
	return nil
}
