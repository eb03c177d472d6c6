package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"text/tabwriter"
)

// maxListedFailures bounds the failures listed in the report; the count
// is always complete.
const maxListedFailures = 20

// result is every figure of a run. The JSON names are the report's
// contract; ratios are routecast over floor.
type result struct {
	Agents         int `json:"agents"`
	Routes         int `json:"routes"`
	StreamsPerConn int `json:"streams_per_conn"`
	Conns          int `json:"conns"`
	Rounds         int `json:"rounds"`

	InitialSyncS          float64 `json:"initial_sync_s"`
	InitialSyncFloorS     float64 `json:"initial_sync_floor_s"`
	InitialSyncFloorRatio float64 `json:"initial_sync_floor_ratio"`
	InitialBytesPerAgent  float64 `json:"initial_bytes_per_agent"`
	InitialParts          int     `json:"initial_parts"`

	K1P50Ms         float64 `json:"k1_p50_ms"`
	K1P99Ms         float64 `json:"k1_p99_ms"`
	K1P50FloorMs    float64 `json:"k1_p50_floor_ms"`
	K1P99FloorMs    float64 `json:"k1_p99_floor_ms"`
	K1P99FloorRatio float64 `json:"k1_p99_floor_ratio"`
	BytesPerAgentK1 float64 `json:"bytes_per_agent_k1"`

	K100P50Ms         float64 `json:"k100_p50_ms"`
	K100P99Ms         float64 `json:"k100_p99_ms"`
	K100P50FloorMs    float64 `json:"k100_p50_floor_ms"`
	K100P99FloorMs    float64 `json:"k100_p99_floor_ms"`
	K100P99FloorRatio float64 `json:"k100_p99_floor_ratio"`
	BytesPerAgentK100 float64 `json:"bytes_per_agent_k100"`

	ServerRSSBeforeKiB      int64   `json:"server_rss_before_kib"`
	ServerRSSAfterKiB       int64   `json:"server_rss_after_kib"`
	ServerRSSPeakKiB        int64   `json:"server_rss_peak_kib"`
	ServerRSSPerStreamKiB   float64 `json:"server_rss_per_stream_kib"`
	RSSPerStreamFloorKiB    float64 `json:"rss_per_stream_floor_kib"`
	RSSPerStreamFloorRatio  float64 `json:"rss_per_stream_floor_ratio"`
	FloorRSSPeakKiB         int64   `json:"floor_rss_peak_kib"`
	ServerStopS             float64 `json:"server_stop_s"`
	ServerLogLines          int     `json:"server_log_lines"`
	ServerStopLogLines      int     `json:"server_stop_log_lines"`
	ConnTransientFailures   int64   `json:"conn_transient_failures"`
	FloorConnTransientFails int64   `json:"floor_conn_transient_failures"`

	CPUInitialSync      cpuUse `json:"cpu_initial_sync"`
	CPUInitialSyncFloor cpuUse `json:"cpu_initial_sync_floor"`
	CPUK1               cpuUse `json:"cpu_k1"`
	CPUK1Floor          cpuUse `json:"cpu_k1_floor"`
	CPUK100             cpuUse `json:"cpu_k100"`
	CPUK100Floor        cpuUse `json:"cpu_k100_floor"`

	ResumeStreams       int       `json:"resume_streams"`
	ResumeRoutesResent  int       `json:"resume_routes_resent"`
	KSweep              []kResult `json:"k_sweep,omitempty"`
	StormStreams        int       `json:"storm_streams"`
	StormS              float64   `json:"storm_resume_s"`
	StormRoutesResent   int       `json:"storm_routes_resent"`
	StormPeakRSSKiB     int64     `json:"storm_server_peak_rss_kib"`
	ApplyRoutesPerS     float64   `json:"apply_routes_per_s"`
	ApplyConcurrency    int       `json:"apply_concurrency"`
	ApplySequentialPerS float64   `json:"apply_routes_per_s_sequential"`
	PutRouteP50Ms       float64   `json:"put_route_p50_ms"`
	PutRouteP99Ms       float64   `json:"put_route_p99_ms"`

	NotConvergedCount int       `json:"not_converged_count"`
	NotConverged      []failure `json:"not_converged"`
	WallS             float64   `json:"wall_s"`
	LoadAvgStart      float64   `json:"load_avg_start"`
	LoadAvgEnd        float64   `json:"load_avg_end"`
	Date              string    `json:"date"`
	Go                string    `json:"go"`
	CPUs              int       `json:"cpus"`
}

// addFailures records the failures of a fleet, listing the first few.
func (r *result) addFailures(server string, fs []failure) {
	r.NotConvergedCount += len(fs)
	for _, f := range fs {
		if len(r.NotConverged) == maxListedFailures {
			return
		}
		f.Step = server + ": " + f.Step
		r.NotConverged = append(r.NotConverged, f)
	}
}

// ratios fills in the routecast-to-floor ratios.
func (r *result) ratios() {
	r.InitialSyncFloorRatio = round3(ratio(r.InitialSyncS, r.InitialSyncFloorS))
	r.K1P99FloorRatio = round3(ratio(r.K1P99Ms, r.K1P99FloorMs))
	r.K100P99FloorRatio = round3(ratio(r.K100P99Ms, r.K100P99FloorMs))
	r.RSSPerStreamFloorRatio = round3(ratio(r.ServerRSSPerStreamKiB, r.RSSPerStreamFloorKiB))
}

// write prints the table and, as the last line, the JSON object.
func (r *result) write(w io.Writer) error {
	if err := r.table(w); err != nil {
		return err
	}
	for _, f := range r.NotConverged {
		fmt.Fprintf(w, "not converged: stream %d in %s: %s\n", f.Stream, f.Step, f.Error)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// table prints each figure of routecast beside the floor's and their
// ratio, then the figures that only routecast has.
func (r *result) table(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\t%d agents, %d routes, %d streams/conn (%d conns)\t routecast\t floor\t ratio\t\n",
		r.Agents, r.Routes, r.StreamsPerConn, r.Conns)
	both := func(name string, rc, floor float64) {
		fmt.Fprintf(tw, "\t%s\t %s\t %s\t %s\t\n", name, num(rc), num(floor), num(ratio(rc, floor)))
	}
	both("initial sync (s)", r.InitialSyncS, r.InitialSyncFloorS)
	both("server RSS per stream (KiB)", r.ServerRSSPerStreamKiB, r.RSSPerStreamFloorKiB)
	both("K=1 p50 (ms)", r.K1P50Ms, r.K1P50FloorMs)
	both("K=1 p99 (ms)", r.K1P99Ms, r.K1P99FloorMs)
	both("K=100 p50 (ms)", r.K100P50Ms, r.K100P50FloorMs)
	both("K=100 p99 (ms)", r.K100P99Ms, r.K100P99FloorMs)
	both("server CPU, initial sync (s)", r.CPUInitialSync.Server, r.CPUInitialSyncFloor.Server)
	both("bench CPU, initial sync (s)", r.CPUInitialSync.Bench, r.CPUInitialSyncFloor.Bench)
	both("server CPU, K=1 rounds (s)", r.CPUK1.Server, r.CPUK1Floor.Server)
	both("bench CPU, K=1 rounds (s)", r.CPUK1.Bench, r.CPUK1Floor.Bench)
	both("server CPU, K=100 rounds (s)", r.CPUK100.Server, r.CPUK100Floor.Server)
	both("bench CPU, K=100 rounds (s)", r.CPUK100.Bench, r.CPUK100Floor.Bench)

	only := func(name string, v float64) { fmt.Fprintf(tw, "\t%s\t %s\t\t\t\n", name, num(v)) }
	only("bytes per agent, K=1", r.BytesPerAgentK1)
	only("bytes per agent, K=100", r.BytesPerAgentK100)
	only("bytes per agent, initial", r.InitialBytesPerAgent)
	only(fmt.Sprintf("routes resent on resume (%d streams)", r.ResumeStreams), float64(r.ResumeRoutesResent))
	for _, k := range r.KSweep {
		only(fmt.Sprintf("K=%d p50 (ms)", k.K), k.P50Ms)
		only(fmt.Sprintf("K=%d p99 (ms)", k.K), k.P99Ms)
		only(fmt.Sprintf("K=%d bytes per agent", k.K), k.BytesPerAgent)
	}
	only(fmt.Sprintf("reconnect storm: %d streams resumed in (s)", r.StormStreams), r.StormS)
	only("reconnect storm: routes resent", float64(r.StormRoutesResent))
	only("reconnect storm: server peak RSS (MiB)", float64(r.StormPeakRSSKiB)/1024)
	only(fmt.Sprintf("ApplyRoutes, %d calls in flight (routes/s)", r.ApplyConcurrency), r.ApplyRoutesPerS)
	only("ApplyRoutes, one call at a time (routes/s)", r.ApplySequentialPerS)
	only("PutRoute p50 (ms)", r.PutRouteP50Ms)
	only("PutRoute p99 (ms)", r.PutRouteP99Ms)
	only("server RSS before streams (MiB)", float64(r.ServerRSSBeforeKiB)/1024)
	only("server RSS with streams (MiB)", float64(r.ServerRSSAfterKiB)/1024)
	only("server peak RSS (MiB)", float64(r.ServerRSSPeakKiB)/1024)
	only("server exit after SIGTERM (s)", r.ServerStopS)
	only("server log lines (warn and up)", float64(r.ServerLogLines))
	only("server log lines while stopping", float64(r.ServerStopLogLines))
	only("streams not converged", float64(r.NotConvergedCount))
	only("load average at start", r.LoadAvgStart)
	only("load average at end", r.LoadAvgEnd)
	only("wall time (s)", r.WallS)
	return tw.Flush()
}

// num formats a figure with three significant decimals at most.
func num(v float64) string {
	switch a := math.Abs(v); {
	case v == 0:
		return "0"
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3f", v)
}

// round3 rounds v to three decimals, for the JSON line.
func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// kResult is the propagation of one batch size of -k-sweep.
type kResult struct {
	K             int     `json:"k"`
	P50Ms         float64 `json:"p50_ms"`
	P99Ms         float64 `json:"p99_ms"`
	BytesPerAgent float64 `json:"bytes_per_agent"`
}
