// Command routecastd is the routecast server. "routecastd serve" runs the
// control plane; "routecastd certs" runs a development CA.
package main

import (
	"fmt"
	"os"
)

const usage = `usage:
  routecastd serve [flags]        run the server
  routecastd certs init [flags]   create a development CA and server certificate
  routecastd certs issue [flags]  issue a workload certificate from the development CA

Run a command with -h for its flags.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "certs":
		err = certs(os.Args[2:])
	case "-h", "-help", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "routecastd: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "routecastd:", err)
		os.Exit(1)
	}
}
