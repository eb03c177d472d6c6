package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// startTimeout bounds the wait for a child to write its address.
	startTimeout = 30 * time.Second
	// stopTimeout is how long a child has to exit after SIGTERM before it
	// is killed.
	stopTimeout = 15 * time.Second
	// addrPoll is how often the address file is checked while a child
	// starts.
	addrPoll = 20 * time.Millisecond
)

// child is a server running as a child process on a loopback port.
type child struct {
	// Set by startChild, then read only.
	name string
	cmd  *exec.Cmd
	addr string
	logs *lineWriter

	exited  chan struct{} // closed once the process has exited
	waitErr error         // the process's exit; read after exited closes

	// Set by stop, on the goroutine that owns the child.
	linesBeforeStop int // lines the child wrote before SIGTERM
}

// startChild runs argv, whose server writes its address to addrFile, and
// waits until it has done so. The child's output goes to out, each line
// prefixed with name. The child is killed if this process dies first.
func startChild(ctx context.Context, name, addrFile string, argv []string,
	out io.Writer) (*child, error) {
	c := &child{name: name, exited: make(chan struct{})}
	c.logs = &lineWriter{prefix: name + ": ", out: out}
	c.cmd = exec.Command(argv[0], argv[1:]...)
	c.cmd.Stdout, c.cmd.Stderr = c.logs, c.logs
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		c.waitErr = c.cmd.Wait()
		close(c.exited)
	}()

	addr, err := c.waitAddr(ctx, addrFile)
	if err != nil {
		c.stop()
		return nil, err
	}
	c.addr = addr
	return c, nil
}

// waitAddr waits for the child to write a loopback address to file.
func (c *child) waitAddr(ctx context.Context, file string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	tick := time.NewTicker(addrPoll)
	defer tick.Stop()
	for {
		b, err := os.ReadFile(file)
		if err == nil && bytes.HasSuffix(b, []byte("\n")) {
			return checkLoopback(c.name, strings.TrimSpace(string(b)))
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("%s: address file: %w", c.name, err)
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("%s did not write its address within %s: %w",
				c.name, startTimeout, ctx.Err())
		case <-c.exited:
			return "", fmt.Errorf("%s exited before it listened: %v", c.name, c.waitErr)
		case <-tick.C:
		}
	}
}

// checkLoopback returns addr if it is a loopback address.
func checkLoopback(name, addr string) (string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("%s: address %q: %w", name, addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("%s listens on %s, not on loopback", name, addr)
	}
	return addr, nil
}

// pid is the child's process id.
func (c *child) pid() int { return c.cmd.Process.Pid }

// stop sends SIGTERM, and SIGKILL when the child has not exited within
// stopTimeout. It returns how long the child took to exit and an error
// when it had to be killed or exited with a failure.
func (c *child) stop() (time.Duration, error) {
	c.linesBeforeStop = c.logs.count()
	start := time.Now()
	select {
	case <-c.exited:
		return 0, fmt.Errorf("%s had exited: %v", c.name, c.waitErr)
	default:
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return 0, fmt.Errorf("%s: SIGTERM: %w", c.name, err)
	}
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-c.exited:
	case <-timer.C:
		c.cmd.Process.Kill()
		<-c.exited
		return time.Since(start), fmt.Errorf("%s did not exit within %s of SIGTERM; killed",
			c.name, stopTimeout)
	}
	if c.waitErr != nil {
		return time.Since(start), fmt.Errorf("%s exited after SIGTERM: %w", c.name, c.waitErr)
	}
	return time.Since(start), nil
}

// maxEchoedLines is how many lines of a child's output are shown; the
// rest are counted only, since a stop with thousands of streams open
// logs a line for each.
const maxEchoedLines = 20

// lineWriter writes the first maxEchoedLines whole lines to out with a
// prefix, and counts all of them.
type lineWriter struct {
	prefix string
	out    io.Writer

	mu      sync.Mutex
	partial []byte // guarded by mu: the start of an unfinished line
	lines   int    // guarded by mu
}

// Write implements io.Writer.
func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		line := w.partial[:i]
		w.partial = w.partial[i+1:]
		w.lines++
		switch {
		case w.lines <= maxEchoedLines:
			fmt.Fprintf(w.out, "%s%s\n", w.prefix, line)
		case w.lines == maxEchoedLines+1:
			fmt.Fprintf(w.out, "%s(further lines are counted, not shown)\n", w.prefix)
		}
	}
	return len(p), nil
}

// count returns the number of lines written.
func (w *lineWriter) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lines
}
