package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
	"github.com/routecast/routecast/pkg/importer"
)

func applyCommand() command {
	var (
		file, scope, namespace string
		prune, dryRun          bool
	)
	return command{
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&file, "f", "", "route `file` to apply, or - for standard input (required)")
			fs.StringVar(&scope, "scope", "", "`scope` to apply to, tenant/environment (required)")
			fs.StringVar(&namespace, "namespace", "", "`namespace` for HTTPRoutes that have none (default \"default\")")
			fs.BoolVar(&prune, "prune", false, "delete the scope's routes that the file does not contain")
			fs.BoolVar(&dryRun, "dry-run", false, "validate and show what would change, without changing it")
		},
		run: func(ctx context.Context, c *client, args []string) error {
			if file == "" || scope == "" {
				return errors.New("apply: -f and --scope are required")
			}
			if len(args) > 0 {
				return fmt.Errorf("apply: unexpected argument %q", args[0])
			}
			data, err := readInput(file)
			if err != nil {
				return err
			}
			res, err := importer.Parse(file, data, importer.Options{DefaultNamespace: namespace})
			if err != nil {
				return err
			}
			for _, s := range res.Skipped {
				fmt.Fprintf(os.Stderr, "skipped document %d (%s %q): %s\n", s.Document, s.Kind, s.Name, s.Reason)
			}
			resp, err := c.admin.ApplyRoutes(ctx, &routecastv1.ApplyRoutesRequest{
				Scope: scope, Puts: res.Routes, Prune: prune, DryRun: dryRun,
			})
			if err != nil {
				return err
			}
			verb := "applied"
			if dryRun {
				verb = "dry run, nothing changed:"
			}
			fmt.Fprintf(c.out, "%s %d routes to %s at revision %d: %d created, %d updated, %d deleted, %d unchanged\n",
				verb, len(res.Routes), scope, resp.GetRevision(), len(resp.GetCreated()), len(resp.GetUpdated()),
				len(resp.GetDeleted()), resp.GetUnchanged())
			printNames(c.out, "created", resp.GetCreated())
			printNames(c.out, "updated", resp.GetUpdated())
			printNames(c.out, "deleted", resp.GetDeleted())
			return nil
		},
	}
}

// printJSON prints m as JSON with stable spacing (protojson varies its
// white space on purpose), indented or on one line.
func printJSON(w io.Writer, m proto.Message, indent bool) error {
	b, err := protojson.Marshal(m)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if indent {
		err = json.Indent(&buf, b, "", "  ")
	} else {
		err = json.Compact(&buf, b)
	}
	if err != nil {
		return err
	}
	buf.WriteByte('\n')
	_, err = w.Write(buf.Bytes())
	return err
}

func readInput(file string) ([]byte, error) {
	if file == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(file)
}

func printNames(w io.Writer, label string, names []string) {
	for _, n := range names {
		fmt.Fprintf(w, "  %s %s\n", label, n)
	}
}

func getCommand() command {
	var scope string
	return command{
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&scope, "scope", "", "`scope` of the route (required)")
		},
		run: func(ctx context.Context, c *client, args []string) error {
			if len(args) != 1 || scope == "" {
				return errors.New("get: want one route NAME and --scope")
			}
			resp, err := c.admin.GetRoute(ctx, &routecastv1.GetRouteRequest{Scope: scope, Name: args[0]})
			if err != nil {
				return err
			}
			return printJSON(c.out, resp.GetRoute(), true)
		},
	}
}

func listCommand() command {
	var (
		scope  string
		asJSON bool
	)
	return command{
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&scope, "scope", "", "`scope` to list (required)")
			fs.BoolVar(&asJSON, "json", false, "print each route as one line of JSON")
		},
		run: func(ctx context.Context, c *client, args []string) error {
			if len(args) > 0 || scope == "" {
				return errors.New("list: want --scope and no arguments")
			}
			tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
			if !asJSON {
				fmt.Fprintln(tw, "NAME\tVERSION\tHOSTS\tMETHODS\tPATH\tUPSTREAM")
			}
			req := &routecastv1.ListRoutesRequest{Scope: scope, PageSize: 500}
			for {
				resp, err := c.admin.ListRoutes(ctx, req)
				if err != nil {
					return err
				}
				for _, r := range resp.GetRoutes() {
					if asJSON {
						if err := printJSON(c.out, r, false); err != nil {
							return err
						}
						continue
					}
					fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", r.GetName(), r.GetVersion(),
						orDash(strings.Join(r.GetMatch().GetHosts(), ",")),
						orDash(strings.Join(r.GetMatch().GetMethods(), ",")),
						describePath(r.GetMatch().GetPath()), describeUpstream(r.GetUpstream()))
				}
				if resp.GetNextPageToken() == "" {
					break
				}
				req.PageToken = resp.GetNextPageToken()
			}
			return tw.Flush()
		},
	}
}

func deleteCommand() command {
	var (
		scope   string
		version uint64
	)
	return command{
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&scope, "scope", "", "`scope` of the route (required)")
			fs.Uint64Var(&version, "expected-version", 0, "delete only if the route is at this `version`")
		},
		run: func(ctx context.Context, c *client, args []string) error {
			if len(args) != 1 || scope == "" {
				return errors.New("delete: want one route NAME and --scope")
			}
			resp, err := c.admin.DeleteRoute(ctx, &routecastv1.DeleteRouteRequest{
				Scope: scope, Name: args[0], ExpectedVersion: version,
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(c.out, "deleted %s from %s at revision %d\n", args[0], scope, resp.GetRevision())
			return nil
		},
	}
}

func historyCommand() command {
	var (
		scope, name string
		after       uint64
		limit       int
	)
	return command{
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&scope, "scope", "", "only this `scope`")
			fs.StringVar(&name, "name", "", "only this route `name` (needs --scope)")
			fs.Uint64Var(&after, "after", 0, "only changes after this `revision`")
			fs.IntVar(&limit, "limit", 100, "at most this many `changes`")
		},
		run: func(ctx context.Context, c *client, args []string) error {
			if limit < 1 {
				return fmt.Errorf("--limit must be at least 1")
			}
			changes, err := listChanges(ctx, c, &routecastv1.ListChangesRequest{
				Scope: scope, Name: name, AfterRevision: after,
			}, limit)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "REVISION\tTIME\tKIND\tSCOPE\tNAME\tACTOR")
			for _, ch := range changes {
				kind := strings.TrimPrefix(ch.GetKind().String(), "CHANGE_KIND_")
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", ch.GetRevision(), ch.GetTime().AsTime().Format(time.RFC3339),
					kind, ch.GetScope(), ch.GetName(), orDash(ch.GetActor()))
			}
			return tw.Flush()
		},
	}
}

// listChanges reads up to limit changes that req selects, a page at a
// time.
func listChanges(ctx context.Context, c *client, req *routecastv1.ListChangesRequest, limit int) ([]*routecastv1.Change, error) {
	var out []*routecastv1.Change
	for len(out) < limit {
		req.PageSize = int32(min(limit-len(out), maxChangesPage))
		resp, err := c.admin.ListChanges(ctx, req)
		if err != nil {
			return nil, err
		}
		out = append(out, resp.GetChanges()...)
		if resp.GetNextPageToken() == "" {
			break
		}
		req.AfterRevision, req.PageToken = 0, resp.GetNextPageToken()
	}
	return out, nil
}

// maxChangesPage is the largest page ListChanges returns.
const maxChangesPage = 1000

func statusCommand() command {
	return command{
		flags: func(*flag.FlagSet) {},
		run: func(ctx context.Context, c *client, args []string) error {
			resp, err := c.admin.GetStatus(ctx, &routecastv1.GetStatusRequest{})
			if err != nil {
				return err
			}
			fmt.Fprintf(c.out, "revision %d\n\n", resp.GetRevision())
			tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SCOPE\tROUTES\tREVISION")
			for _, s := range resp.GetScopes() {
				fmt.Fprintf(tw, "%s\t%d\t%d\n", s.GetScope(), s.GetRoutes(), s.GetRevision())
			}
			fmt.Fprintln(tw)
			fmt.Fprintln(tw, "AGENT\tSCOPE\tSPIFFE ID\tACKED\tIN SYNC\tUPDATES\tROUTES SENT\tCERT EXPIRES\tLAST NACK")
			for _, a := range resp.GetAgents() {
				nack := "-"
				if n := a.GetLastNack(); n != nil {
					nack = fmt.Sprintf("rev %d: %s", n.GetRevision(), n.GetErrorDetail().GetMessage())
				}
				expiry := a.GetCertExpiry().AsTime().UTC().Format(time.RFC3339)
				if a.GetCertExpiresSoon() {
					expiry += " (soon)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%v\t%d\t%d\t%s\t%s\n", a.GetNode().GetId(), a.GetScope(), a.GetSpiffeId(),
					a.GetAckedRevision(), a.GetInSync(), a.GetUpdatesSent(), a.GetRoutesSent(), expiry, nack)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if r := resp.GetHandshakeRejections(); len(r) > 0 {
				fmt.Fprintf(c.out, "\nrefused handshakes:")
				for _, reason := range slices.Sorted(maps.Keys(r)) {
					fmt.Fprintf(c.out, " %s=%d", reason, r[reason])
				}
				fmt.Fprintln(c.out)
			}
			return nil
		},
	}
}

func describePath(p *routecastv1.PathMatch) string {
	switch k := p.GetKind().(type) {
	case *routecastv1.PathMatch_Exact:
		return "= " + k.Exact
	case *routecastv1.PathMatch_Prefix:
		return k.Prefix + "*"
	case *routecastv1.PathMatch_Template:
		return k.Template
	case *routecastv1.PathMatch_Regex:
		return "~ " + k.Regex
	}
	return "-"
}

func describeUpstream(u *routecastv1.Upstream) string {
	if u.GetUrl() != "" {
		return u.GetUrl()
	}
	var parts []string
	for _, b := range u.GetBackends() {
		if b.GetWeight() > 0 {
			parts = append(parts, fmt.Sprintf("%s(w%d)", b.GetCluster(), b.GetWeight()))
		} else {
			parts = append(parts, b.GetCluster())
		}
	}
	return orDash(strings.Join(parts, ","))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
