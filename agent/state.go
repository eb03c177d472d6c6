package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"google.golang.org/protobuf/encoding/protojson"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/pkg/atomicfile"
)

// stateFile is the agent's local state inside --state-dir.
const stateFile = "state.json"

// state is what the agent holds: the scope's routes at one revision. It is
// saved after every applied update, so a restart resumes incrementally.
type state struct {
	Scope    string
	Revision uint64
	Routes   map[string]*routecastv1.Route
}

// stateJSON is the file form of state.
type stateJSON struct {
	Scope    string            `json:"scope"`
	Revision uint64            `json:"revision"`
	Routes   []json.RawMessage `json:"routes"`
}

func newState(scope string) *state {
	return &state{Scope: scope, Routes: make(map[string]*routecastv1.Route)}
}

// versions returns name -> version of every route held.
func (s *state) versions() map[string]uint64 {
	out := make(map[string]uint64, len(s.Routes))
	for name, r := range s.Routes {
		out[name] = r.GetVersion()
	}
	return out
}

// clone copies the state; routes are shared, as they are never modified.
func (s *state) clone() *state {
	return &state{Scope: s.Scope, Revision: s.Revision, Routes: maps.Clone(s.Routes)}
}

// sorted returns the routes in name order.
func (s *state) sorted() []*routecastv1.Route {
	out := make([]*routecastv1.Route, 0, len(s.Routes))
	for _, name := range slices.Sorted(maps.Keys(s.Routes)) {
		out = append(out, s.Routes[name])
	}
	return out
}

// loadState reads the saved state of scope from dir. A missing file, or one
// for another scope, gives an empty state and ok false.
func loadState(dir, scope string) (st *state, ok bool, err error) {
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return newState(scope), false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("agent: read state: %w", err)
	}
	var f stateJSON
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, false, fmt.Errorf("agent: state file %s: %w", filepath.Join(dir, stateFile), err)
	}
	if f.Scope != scope {
		return newState(scope), false, nil
	}
	st = &state{Scope: f.Scope, Revision: f.Revision, Routes: make(map[string]*routecastv1.Route, len(f.Routes))}
	for i, raw := range f.Routes {
		r := new(routecastv1.Route)
		if err := protojson.Unmarshal(raw, r); err != nil {
			return nil, false, fmt.Errorf("agent: state file %s: route %d: %w", filepath.Join(dir, stateFile), i, err)
		}
		st.Routes[r.GetName()] = r
	}
	return st, true, nil
}

// save writes the state to dir atomically.
func (s *state) save(dir string) error {
	f := stateJSON{Scope: s.Scope, Revision: s.Revision, Routes: make([]json.RawMessage, 0, len(s.Routes))}
	for _, r := range s.sorted() {
		b, err := protojson.Marshal(r)
		if err != nil {
			return fmt.Errorf("agent: encode state: %w", err)
		}
		f.Routes = append(f.Routes, b)
	}
	data, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("agent: encode state: %w", err)
	}
	if _, err := atomicfile.Write(filepath.Join(dir, stateFile), data, 0o600); err != nil {
		return fmt.Errorf("agent: save state: %w", err)
	}
	return nil
}
