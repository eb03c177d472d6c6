package identity

import "time"

// SetClock makes s read the time from now, and starts its reload throttle
// afresh at now(), so that tests decide when the next look at the files is
// due.
func SetClock(s *Source, now func() time.Time) {
	s.now = now
	s.lastCheck.Store(now().UnixNano())
}
