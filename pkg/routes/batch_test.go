package routes_test

import (
	"errors"
	"fmt"
	"testing"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/pkg/routes"
)

// TestValidateBatch_LargeReportsFirstError checks that a batch large
// enough to be validated in parallel still reports its first invalid
// route.
func TestValidateBatch_LargeReportsFirstError(t *testing.T) {
	puts := make([]*routecastv1.Route, 1000)
	for i := range puts {
		puts[i] = benchRoute()
		puts[i].Name = fmt.Sprintf("route-%04d", i)
	}
	if err := routes.ValidateBatch(puts, nil); err != nil {
		t.Fatalf("valid batch: %v", err)
	}
	for _, i := range []int{999, 620, 150} {
		puts[i].Match.Methods = []string{"FETCH"}
	}
	err := routes.ValidateBatch(puts, nil)
	var fe *routes.FieldError
	if !errors.As(err, &fe) || fe.Field != "puts[150].match.methods[0]" {
		t.Fatalf("err = %v, want the error of puts[150]", err)
	}
}
