package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/routecast/routecast/pkg/identity"
)

func certs(args []string) error {
	if len(args) == 0 {
		return errors.New("certs: want \"init\" or \"issue\"")
	}
	var err error
	switch args[0] {
	case "init":
		err = certsInit(args[1:])
	case "issue":
		err = certsIssue(args[1:])
	default:
		return fmt.Errorf("certs: unknown command %q; want \"init\" or \"issue\"", args[0])
	}
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

func certsInit(args []string) error {
	var (
		opts  identity.CAOptions
		dir   string
		hosts string
	)
	fs := flag.NewFlagSet("routecastd certs init", flag.ContinueOnError)
	fs.StringVar(&dir, "dir", "", "`directory` for the CA and server files (required)")
	fs.StringVar(&opts.TrustDomain, "trust-domain", "", "SPIFFE trust `domain`, such as routecast.test (required)")
	fs.DurationVar(&opts.CATTL, "ca-ttl", 30*24*time.Hour, "lifetime of the CA certificate")
	fs.DurationVar(&opts.ServerTTL, "server-ttl", 7*24*time.Hour, "lifetime of the server certificate")
	fs.StringVar(&hosts, "hosts", "localhost,127.0.0.1,::1", "comma-separated DNS names and IPs of the server certificate")
	fs.BoolVar(&opts.Force, "force", false, "replace an existing CA in -dir")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if dir == "" || opts.TrustDomain == "" {
		return errors.New("certs init: -dir and -trust-domain are required")
	}
	opts.ServerHosts = strings.Split(hosts, ",")
	if err := identity.InitCA(dir, opts); err != nil {
		return err
	}
	fmt.Printf("wrote %s/{ca,ca-key,server,server-key}.pem for trust domain %s\n", dir, opts.TrustDomain)
	return nil
}

func certsIssue(args []string) error {
	var (
		opts identity.IssueOptions
		dir  string
	)
	fs := flag.NewFlagSet("routecastd certs issue", flag.ContinueOnError)
	fs.StringVar(&dir, "dir", "", "`directory` of the development CA (required)")
	fs.StringVar(&opts.SPIFFEID, "spiffe-id", "", "SPIFFE `ID` of the workload, spiffe://<trust-domain>/<path> (required)")
	fs.DurationVar(&opts.TTL, "ttl", 24*time.Hour, "certificate lifetime")
	fs.StringVar(&opts.Name, "name", "", "base `name` of the files; default derived from the ID's path")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if dir == "" || opts.SPIFFEID == "" {
		return errors.New("certs issue: -dir and -spiffe-id are required")
	}
	cert, key, err := identity.Issue(dir, opts)
	if err != nil {
		return err
	}
	fmt.Printf("wrote %s and %s for %s\n", cert, key, opts.SPIFFEID)
	return nil
}
