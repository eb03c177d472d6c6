package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"

	"google.golang.org/protobuf/encoding/protojson"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/pkg/atomicfile"
)

// routesFile is the file every agent writes in its output directory.
const routesFile = "routes.json"

// Template renders one further output file from the routes.
type Template struct {
	// Source is the path of a Go text/template file.
	Source string
	// Output is the name of the rendered file, relative to the output
	// directory, without path separators.
	Output string
}

// templateData is what templates see: {{.Scope}}, {{.Revision}} and
// {{range .Routes}} over the routes in name order. Each route is a
// routecast.v1.Route; its getters work on unset fields, as in
// {{.GetUpstream.GetUrl}}.
type templateData struct {
	Scope    string
	Revision uint64
	Routes   []*routecastv1.Route
}

// renderer turns a state into file contents.
type renderer struct {
	templates []*template.Template // parallel to names
	names     []string
}

func newRenderer(ts []Template) (*renderer, error) {
	r := &renderer{}
	for _, t := range ts {
		if t.Output == "" || t.Output == routesFile || strings.ContainsAny(t.Output, `/\`) || t.Output == "." || t.Output == ".." {
			return nil, fmt.Errorf("agent: template output %q must be a plain file name other than %s", t.Output, routesFile)
		}
		tmpl, err := template.New(filepath.Base(t.Source)).Funcs(templateFuncs).ParseFiles(t.Source)
		if err != nil {
			return nil, fmt.Errorf("agent: template %s: %w", t.Source, err)
		}
		r.templates = append(r.templates, tmpl)
		r.names = append(r.names, t.Output)
	}
	return r, nil
}

var templateFuncs = template.FuncMap{
	// fail stops rendering: the agent rejects the update and keeps its files.
	"fail": func(msg string) (string, error) { return "", errors.New(msg) },
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
}

// render returns every output file's content, by file name. Nothing is
// written; an error leaves the files as they are.
func (r *renderer) render(s *state) (map[string][]byte, error) {
	doc := map[string]any{"scope": s.Scope, "revision": s.Revision}
	routes := make([]map[string]any, 0, len(s.Routes))
	for _, rt := range s.sorted() {
		b, err := protojson.Marshal(rt)
		if err != nil {
			return nil, fmt.Errorf("encode route %q: %w", rt.GetName(), err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("encode route %q: %w", rt.GetName(), err)
		}
		routes = append(routes, m)
	}
	doc["routes"] = routes
	// encoding/json sorts map keys, so the file is canonical: the same
	// routes always give the same bytes.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	out := map[string][]byte{routesFile: buf.Bytes()}

	data := templateData{Scope: s.Scope, Revision: s.Revision, Routes: s.sorted()}
	for i, t := range r.templates {
		var b bytes.Buffer
		if err := t.Execute(&b, data); err != nil {
			return nil, fmt.Errorf("template for %s: %w", r.names[i], err)
		}
		out[r.names[i]] = b.Bytes()
	}
	return out, nil
}

// writeOutputs replaces the files in dir whose content changed, all or
// none: every file is written and checked under a temporary name first,
// and only then renamed into place. It returns the names it changed.
func writeOutputs(dir string, files map[string][]byte) ([]string, error) {
	pending := make([]*atomicfile.Pending, 0, len(files))
	defer func() {
		for _, p := range pending {
			p.Abort()
		}
	}()
	var changed []string
	for _, name := range slices.Sorted(maps.Keys(files)) {
		p, err := atomicfile.Prepare(filepath.Join(dir, name), files[name], 0o644)
		if err != nil {
			return nil, err
		}
		pending = append(pending, p)
		if p.Changed() {
			changed = append(changed, name)
		}
	}
	for _, p := range pending {
		if err := p.Commit(); err != nil {
			return changed, err
		}
	}
	return changed, nil
}

// prepareDir creates dir if needed (mode 0755, or 0700 for state) and
// returns its absolute path with symlinks resolved.
func prepareDir(dir string, mode fs.FileMode) (string, error) {
	if err := os.MkdirAll(dir, mode); err != nil {
		return "", err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}
