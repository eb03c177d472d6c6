package identity

import (
	"context"
	"errors"
	"fmt"
)

// Config says where a workload's identity comes from: a SPIFFE Workload
// API socket, or PEM files from any CA.
type Config struct {
	// Socket is a Workload API address such as
	// "unix:///run/spire/agent.sock". When set, the files must not be.
	Socket string
	// Cert, Key and Bundle are PEM files: the X.509-SVID with its chain,
	// its private key, and the trust bundle. They are read again when they
	// change.
	Cert, Key, Bundle string
}

// Open returns the identity material c names, and a function that
// releases it.
func Open(ctx context.Context, c Config) (Material, func() error, error) {
	files := c.Cert != "" || c.Key != "" || c.Bundle != ""
	switch {
	case c.Socket != "" && files:
		return nil, nil, errors.New("identity: give a Workload API socket or certificate files, not both")
	case c.Socket != "":
		w, err := NewWorkloadSource(ctx, c.Socket)
		if err != nil {
			return nil, nil, err
		}
		return w, w.Close, nil
	case c.Cert == "" || c.Key == "" || c.Bundle == "":
		return nil, nil, fmt.Errorf("identity: need a certificate, a key and a trust bundle (or a Workload API socket)")
	}
	src, err := NewFileSource(c.Cert, c.Key, c.Bundle)
	if err != nil {
		return nil, nil, err
	}
	return src, func() error { return nil }, nil
}
