// Package importer turns route files into routecast routes.
//
// A file holds one or more YAML documents; JSON is YAML too. Each document
// is one of:
//
//   - a Kubernetes Gateway API HTTPRoute (gateway.networking.k8s.io/v1 or
//     v1beta1), imported as one route per rule and match;
//   - another Gateway API object, such as a Gateway, reported in
//     Result.Skipped;
//   - a routecast RouteSet (routecast.dev/v1), a list of routes written as
//     the routecast.v1.Route message.
//
// Decoding is strict: an unknown field, a value of the wrong type, or a
// route that fails validation is an *Error that names the document, the
// line and the field. Every route returned has been validated and
// normalized with package routes.
package importer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/pkg/routes"
	"go.yaml.in/yaml/v3"
)

// Options tune how a file is imported. The zero value works.
type Options struct {
	// DefaultNamespace for Gateway API objects without metadata.namespace;
	// "" means "default".
	DefaultNamespace string
}

// Skipped is a document that was understood but not imported, such as a
// Gateway API Gateway.
type Skipped struct {
	// Document is the 1-based position of the document in the file.
	Document int
	// Kind and Name are the object's kind and metadata.name.
	Kind, Name string
	// Reason says why the document was not imported.
	Reason string
}

// Result is what one file holds.
type Result struct {
	// Routes in the order of the file: by document, rule and match.
	Routes []*routecastv1.Route
	// Skipped documents, in the order of the file.
	Skipped []Skipped
}

// Error says where in a file an input problem is.
type Error struct {
	// File is the file name given to Parse.
	File string
	// Document is the 1-based position of the document in the file.
	Document int
	// Line is the 1-based line in the file, or 0 when unknown.
	Line int
	// Field is the path of the field in the document, such as
	// "spec.rules[0].matches[0].path.type", or empty for the whole
	// document.
	Field string
	// Reason says what is wrong.
	Reason string
}

// Error formats e as "<file>: document <n>, line <n>: <field>: <reason>",
// leaving out the parts that are not known.
func (e *Error) Error() string {
	var where []string
	if e.Document > 0 {
		where = append(where, fmt.Sprintf("document %d", e.Document))
	}
	if e.Line > 0 {
		where = append(where, fmt.Sprintf("line %d", e.Line))
	}
	parts := []string{e.File, strings.Join(where, ", "), e.Field, e.Reason}
	var b strings.Builder
	for _, p := range parts {
		if p == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(p)
	}
	return b.String()
}

// Parse reads one file's bytes. It detects the format per YAML document from
// apiVersion and kind. The file name is used only in errors. On error Parse
// returns no result at all.
func Parse(filename string, data []byte, opts Options) (*Result, error) {
	p := &parser{file: filename, opts: opts, names: make(map[string]origin)}
	if err := p.parse(data); err != nil {
		return nil, err
	}
	return &p.result, nil
}

// parser holds the state of one Parse call.
type parser struct {
	file   string
	opts   Options
	result Result
	names  map[string]origin // route name -> where the route came from
}

// origin is where in the file a route came from.
type origin struct {
	document int
	line     int
}

// imported is a route decoded from a document, with what is needed to
// report its validation errors against the document.
type imported struct {
	route  *routecastv1.Route
	fields fieldMap // route field -> document field
}

func (p *parser) parse(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for doc := 1; ; doc++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err == nil {
			err = p.document(doc, &n)
		} else {
			err = syntaxError(err)
		}
		if err != nil {
			return p.locate(doc, err)
		}
	}
}

// locate fills in the file and document of an error.
func (p *parser) locate(doc int, err error) error {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Reason: err.Error()}
	}
	e.File, e.Document = p.file, doc
	return e
}

// yamlLine finds the line in the messages of the YAML parser.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError turns an error of the YAML parser into an *Error.
func syntaxError(err error) error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{Line: line, Reason: "invalid YAML: " + m[2]}
	}
	return &Error{Reason: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

// add validates and normalizes the routes of one document and appends them
// to the result.
func (p *parser) add(doc int, w *walker, rs []imported) error {
	for _, im := range rs {
		if err := routes.Validate(im.route); err != nil {
			return validationError(w, im.fields, err)
		}
		routes.Normalize(im.route)

		name := im.route.GetName()
		field := im.fields.source("name")
		here := origin{document: doc, line: w.line(field)}
		if prev, ok := p.names[name]; ok {
			return &Error{Line: here.line, Field: field,
				Reason: fmt.Sprintf("duplicate route name %q (also %s)", name, prev.describe(doc))}
		}
		p.names[name] = here
		p.result.Routes = append(p.result.Routes, im.route)
	}
	return nil
}

// describe says where o is, seen from document doc.
func (o origin) describe(doc int) string {
	if o.document == doc {
		return fmt.Sprintf("line %d", o.line)
	}
	return fmt.Sprintf("document %d, line %d", o.document, o.line)
}

// validationError reports a validation error of package routes at the
// document field the invalid route field came from.
func validationError(w *walker, fields fieldMap, err error) error {
	var fe *routes.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	field := fields.source(fe.Field)
	return &Error{Line: w.line(field), Field: field, Reason: fe.Reason}
}
