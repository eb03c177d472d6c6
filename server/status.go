package server

import (
	"context"
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/routecast/routecast/pkg/routes"
	"github.com/routecast/routecast/pkg/store"
)

// invalidArgument turns a validation error into InvalidArgument. A field
// error also travels as a BadRequest detail naming the field.
func invalidArgument(err error) error {
	st := status.New(codes.InvalidArgument, err.Error())
	var fe *routes.FieldError
	if errors.As(err, &fe) {
		if d, derr := st.WithDetails(&errdetails.BadRequest{
			FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: fe.Field, Description: fe.Reason}},
		}); derr == nil {
			st = d
		}
	}
	return st.Err()
}

// storeError turns a store error into the status an operator can act on.
func storeError(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, store.ErrConflict):
		return status.Error(codes.Aborted, err.Error())
	case errors.Is(err, store.ErrInvalid):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, store.ErrClosed):
		return status.Error(codes.Unavailable, err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	}
	return status.Errorf(codes.Internal, "store: %v", err)
}

// withField re-labels a field error as being about field: ValidateName
// reports "name", but in a request the name may sit in another field.
func withField(err error, field string) error {
	var fe *routes.FieldError
	if errors.As(err, &fe) {
		return &routes.FieldError{Field: field, Reason: fe.Reason}
	}
	return err
}

// prefixField places a field error under a parent field: "match.path"
// under "route" becomes "route.match.path".
func prefixField(err error, parent string) error {
	var fe *routes.FieldError
	if errors.As(err, &fe) {
		return &routes.FieldError{Field: parent + "." + fe.Field, Reason: fe.Reason}
	}
	return err
}
