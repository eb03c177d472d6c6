package agent

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/routecast/routecast/pkg/atomicfile"
)

// statusFile reports the agent's connection and data, next to its state.
const statusFile = "status.json"

// Connection states reported in status.json.
const (
	statusConnecting   = "connecting"
	statusConnected    = "connected"
	statusDisconnected = "disconnected"
	statusRefused      = "refused"
	statusStopped      = "stopped"
)

// Status is what the agent reports about itself in <state-dir>/status.json:
// whether it is connected, the revision its files hold, and the last
// error. While it is not connected its files stay as they are: the last
// known good routes.
type Status struct {
	// State is connecting, connected, disconnected, refused or stopped.
	State string `json:"state"`
	// Server is the address of the latest connection attempt.
	Server string `json:"server,omitempty"`
	// Since is when State last changed.
	Since time.Time `json:"since"`
	// Revision and Routes describe the files as written.
	Revision uint64 `json:"revision"`
	Routes   int    `json:"routes"`
	// LastUpdate is when the files last took an update.
	LastUpdate *time.Time `json:"last_update,omitempty"`
	// LastError is the latest stream error or rejected update.
	LastError string `json:"last_error,omitempty"`
	// Files says what happened to the output files: "up to date" or
	// "kept as they are (last known good)".
	Files string `json:"files"`
}

// setStatus records a new connection state and writes status.json.
func (a *Agent) setStatus(state, server string, err error) {
	if state != a.status.State {
		a.status.Since = time.Now().UTC()
	}
	a.status.State, a.status.Server = state, server
	if err != nil {
		a.status.LastError = err.Error()
	}
	a.writeStatus()
}

// noteApplied records an applied update in the status.
func (a *Agent) noteApplied() {
	now := time.Now().UTC()
	a.status.LastUpdate = &now
	a.writeStatus()
}

func (a *Agent) writeStatus() {
	a.status.Revision, a.status.Routes = a.state.Revision, len(a.state.Routes)
	a.status.Files = "up to date"
	if a.status.State != statusConnected {
		a.status.Files = "kept as they are (last known good)"
	}
	data, err := json.MarshalIndent(a.status, "", "  ")
	if err == nil {
		_, err = atomicfile.Write(filepath.Join(a.stateDir, statusFile), append(data, '\n'), 0o644)
	}
	if err != nil {
		a.log.Warn("cannot write status file", "error", fmt.Sprint(err))
	}
}
