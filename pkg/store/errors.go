package store

import "errors"

var (
	// ErrNotFound is returned when a route that a call names does not exist.
	ErrNotFound = errors.New("store: route not found")

	// ErrConflict is returned by Apply when a stored route does not have the
	// version a batch expected.
	ErrConflict = errors.New("store: version conflict")

	// ErrInvalid is returned by Apply for a batch that cannot be committed as
	// given: a route without a name, a name put twice, a name both put and
	// deleted.
	ErrInvalid = errors.New("store: invalid batch")

	// ErrClosed is returned by every call after Close.
	ErrClosed = errors.New("store: closed")
)
