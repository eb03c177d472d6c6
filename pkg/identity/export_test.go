package identity

import "time"

// SetClock makes s read the time from now, look at its files at most once
// a second, and starts that throttle afresh at now(), so that tests decide
// when the next look at the files is due.
func SetClock(s *Source, now func() time.Time) {
	s.now = now
	s.interval = time.Second
	s.lastCheck.Store(now().UnixNano())
}
