package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// clockTick is the unit of the CPU times in /proc/<pid>/stat: USER_HZ,
// which is 100 on every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// processCPU returns the user and system CPU time process pid has used.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("cpu: %w", err)
	}
	// The command name, in parentheses, may hold spaces; the fields
	// after it are space-separated, utime and stime being the 12th and
	// 13th of them.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("cpu: unexpected /proc/%d/stat", pid)
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("cpu: unexpected /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	stime, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("cpu: unexpected /proc/%d/stat", pid)
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// cpuMeter measures the CPU time a server and this process use during a
// step, to tell which side a step's time went to.
type cpuMeter struct {
	server       int
	server0, us0 time.Duration
	err          error
}

// startCPU starts measuring the CPU of process server and of this one.
func startCPU(server int) *cpuMeter {
	m := &cpuMeter{server: server}
	m.server0, m.us0, m.err = cpuOf(server)
	return m
}

// cpuOf returns the CPU time of process server and of this one.
func cpuOf(server int) (time.Duration, time.Duration, error) {
	s, err := processCPU(server)
	if err != nil {
		return 0, 0, err
	}
	u, err := processCPU(os.Getpid())
	return s, u, err
}

// stop returns the CPU seconds the server and this process used since
// startCPU, or zeros when /proc could not tell.
func (m *cpuMeter) stop() cpuUse {
	s, u, err := cpuOf(m.server)
	if err != nil || m.err != nil {
		return cpuUse{}
	}
	return cpuUse{Server: round3((s - m.server0).Seconds()), Bench: round3((u - m.us0).Seconds())}
}

// cpuUse is the CPU seconds a step cost the server and the benchmark.
type cpuUse struct {
	Server float64 `json:"server_s"`
	Bench  float64 `json:"bench_s"`
}

// add returns the sum of c and d.
func (c cpuUse) add(d cpuUse) cpuUse {
	return cpuUse{Server: round3(c.Server + d.Server), Bench: round3(c.Bench + d.Bench)}
}

// loadAverage returns the one-minute load average of the machine, to tell
// a run on a busy machine from one on a quiet one; 0 if unknown.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := bytes.Fields(b)
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(string(f[0]), 64)
	return v
}
