package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"time"
)

// settleInterval is the time between two RSS reads that must agree within
// settleTolerance for the RSS to count as settled.
const (
	settleInterval  = time.Second
	settleTolerance = 0.01
)

// memory is a process's resident memory in KiB, from /proc/<pid>/status.
type memory struct {
	RSS  int64 // VmRSS: resident now
	Peak int64 // VmHWM: the most resident so far
}

// readMemory reads the memory of process pid.
func readMemory(pid int) (memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}, fmt.Errorf("rss: %w", err)
	}
	var m memory
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, value, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if !ok {
			continue
		}
		switch string(key) {
		case "VmRSS":
			m.RSS, err = parseKiB(value)
		case "VmHWM":
			m.Peak, err = parseKiB(value)
		}
		if err != nil {
			return memory{}, fmt.Errorf("rss: %s of %d: %w", key, pid, err)
		}
	}
	if m.RSS == 0 {
		return memory{}, fmt.Errorf("rss: no VmRSS for process %d", pid)
	}
	return m, nil
}

// parseKiB parses "   1234 kB".
func parseKiB(b []byte) (int64, error) {
	b = bytes.TrimSpace(b)
	b = bytes.TrimSpace(bytes.TrimSuffix(b, []byte("kB")))
	return strconv.ParseInt(string(b), 10, 64)
}

// settledMemory reads the memory of pid every settleInterval until two
// reads differ by less than settleTolerance, or until limit has passed,
// and returns the last read. The process is left alone: no collection is
// forced, so the figure is what an operator would see.
func settledMemory(ctx context.Context, pid int, limit time.Duration) (memory, error) {
	prev, err := readMemory(pid)
	if err != nil {
		return memory{}, err
	}
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(settleInterval)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return memory{}, ctx.Err()
		case <-tick.C:
		}
		cur, err := readMemory(pid)
		if err != nil {
			return memory{}, err
		}
		diff := cur.RSS - prev.RSS
		if diff < 0 {
			diff = -diff
		}
		if float64(diff) < settleTolerance*float64(prev.RSS) {
			return cur, nil
		}
		prev = cur
	}
	return prev, nil
}
