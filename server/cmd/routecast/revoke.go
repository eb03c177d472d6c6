package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	routecastv1 "github.com/routecast/routecast/gen/routecast/v1"
)

func revokeCommand() command {
	var id, serial, reason string
	return command{
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&id, "spiffe-id", "", "revoke every certificate of this SPIFFE `ID`")
			fs.StringVar(&serial, "serial", "", "revoke the certificate with this `serial` (hexadecimal)")
			fs.StringVar(&reason, "reason", "", "why, for the audit trail (required)")
		},
		run: func(ctx context.Context, c *client, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("revoke: unexpected argument %q", args[0])
			}
			if (id == "") == (serial == "") || reason == "" {
				return errors.New("revoke: want one of --spiffe-id and --serial, and --reason")
			}
			resp, err := c.admin.RevokeIdentity(ctx, &routecastv1.RevokeIdentityRequest{SpiffeId: id, Serial: serial, Reason: reason})
			if err != nil {
				return err
			}
			fmt.Fprintf(c.out, "revoked %s; %d open streams ended\n", describeTarget(resp.GetRevocation()), resp.GetStreamsEnded())
			return nil
		},
	}
}

func unrevokeCommand() command {
	var id, serial string
	return command{
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&id, "spiffe-id", "", "lift the revocation of this SPIFFE `ID`")
			fs.StringVar(&serial, "serial", "", "lift the revocation of this certificate `serial`")
		},
		run: func(ctx context.Context, c *client, args []string) error {
			if len(args) > 0 || (id == "") == (serial == "") {
				return errors.New("unrevoke: want one of --spiffe-id and --serial")
			}
			if _, err := c.admin.UnrevokeIdentity(ctx, &routecastv1.UnrevokeIdentityRequest{SpiffeId: id, Serial: serial}); err != nil {
				return err
			}
			fmt.Fprintf(c.out, "revocation of %s lifted\n", orDash(id+serial))
			return nil
		},
	}
}

func revocationsCommand() command {
	return command{
		flags: func(*flag.FlagSet) {},
		run: func(ctx context.Context, c *client, args []string) error {
			resp, err := c.admin.ListRevocations(ctx, &routecastv1.ListRevocationsRequest{})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TARGET\tTIME\tACTOR\tREASON")
			for _, r := range resp.GetRevocations() {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", describeTarget(r), r.GetTime().AsTime().UTC().Format(time.RFC3339),
					orDash(r.GetActor()), r.GetReason())
			}
			return tw.Flush()
		},
	}
}

func describeTarget(r *routecastv1.Revocation) string {
	if id := r.GetSpiffeId(); id != "" {
		return id
	}
	return "serial " + r.GetSerial()
}
