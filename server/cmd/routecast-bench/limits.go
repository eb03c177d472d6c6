package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// fdReserve is the file descriptors kept for everything but the streams'
// connections: the admin connection, child pipes, files, the runtime.
const fdReserve = 128

// raiseFileLimit raises RLIMIT_NOFILE to its hard limit and fails when
// conns connections would not fit in it, or in the range of ephemeral
// ports. The child servers inherit the raised limit.
func raiseFileLimit(conns int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("read RLIMIT_NOFILE: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return fmt.Errorf("raise RLIMIT_NOFILE to %d: %w", lim.Max, err)
		}
	}
	if need := uint64(conns) + fdReserve; need > lim.Cur {
		return fmt.Errorf("%d connections need about %d file descriptors, but RLIMIT_NOFILE "+
			"allows %d (hard limit); raise it (ulimit -Hn) or share connections with "+
			"-streams-per-conn", conns, need, lim.Cur)
	}
	if ports, err := ephemeralPorts(); err == nil && conns > ports {
		return fmt.Errorf("%d connections do not fit in the %d ephemeral ports of "+
			"net.ipv4.ip_local_port_range; share connections with -streams-per-conn", conns, ports)
	}
	return nil
}

// ephemeralPorts returns the size of the local port range.
func ephemeralPorts() (int, error) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, fmt.Errorf("ip_local_port_range: unexpected %q", b)
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("ip_local_port_range: unexpected %q", b)
	}
	return hi - lo + 1, nil
}
