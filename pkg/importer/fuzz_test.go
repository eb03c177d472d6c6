package importer_test

import (
	"os"
	"testing"

	"github.com/routecast/routecast/pkg/importer"
	"github.com/routecast/routecast/pkg/routes"
)

// FuzzParse feeds arbitrary documents to the file importer. Nothing may
// panic, an error is always an *importer.Error, and every route of a
// successful parse is valid.
func FuzzParse(f *testing.F) {
	for _, path := range []string{"../../examples/payments-routes.yaml", "../../examples/routeset.yaml"} {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := importer.Parse("fuzz.yaml", data, importer.Options{})
		if err != nil {
			if _, ok := err.(*importer.Error); !ok {
				t.Fatalf("error of type %T, want *importer.Error: %v", err, err)
			}
			return
		}
		for _, r := range res.Routes {
			if err := routes.Validate(r); err != nil {
				t.Fatalf("route %q from a successful parse is invalid: %v", r.GetName(), err)
			}
		}
	})
}
