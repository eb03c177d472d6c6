package routes

import (
	"errors"
	"fmt"
	"strconv"
)

// FieldError reports that one field of a route, or of a batch of routes, is
// invalid. Every error returned by this package's validation functions is a
// *FieldError.
type FieldError struct {
	// Field is the dotted path of the invalid field, relative to what was
	// validated: "match.path.prefix" for a route, "puts[2].upstream.url"
	// for a batch. It is empty when the value as a whole is wrong.
	Field string
	// Reason says what is wrong, as a sentence fragment.
	Reason string
}

// Error returns "<field>: <reason>", or the reason alone when Field is
// empty.
func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

// fieldErrorf returns a *FieldError for field with a formatted reason.
func fieldErrorf(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// withPrefix puts prefix in front of the field of err, which must come from
// this package. A nil err stays nil.
func withPrefix(prefix string, err error) error {
	var fe *FieldError
	if !errors.As(err, &fe) {
		return err
	}
	return &FieldError{Field: joinField(prefix, fe.Field), Reason: fe.Reason}
}

// joinField joins a parent field path and a child path, which may be empty
// or start with an index.
func joinField(parent, child string) string {
	switch {
	case parent == "":
		return child
	case child == "":
		return parent
	case child[0] == '[':
		return parent + child
	}
	return parent + "." + child
}

// indexField returns the path of element i of the list at field.
func indexField(field string, i int) string {
	return field + "[" + strconv.Itoa(i) + "]"
}
