package routes

import (
	"strconv"
	"strings"
)

// Limits on the length of names and values.
const (
	maxNameLen      = 253
	maxDNSLabelLen  = 63
	maxLabelKeyLen  = 63
	maxLabelValLen  = 256
	maxOwnerLen     = 128
	maxSecretRefLen = 253
)

func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isAlnum(c byte) bool { return isLower(c) || isUpper(c) || isDigit(c) }

// onlyBytes reports whether s is non-empty and every byte of s is a letter,
// a digit or one of extra.
func onlyBytes(s, extra string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) && strings.IndexByte(extra, s[i]) < 0 {
			return false
		}
	}
	return true
}

// isDNSLabel reports whether s is a lowercase RFC 1123 label.
func isDNSLabel(s string) bool {
	if s == "" || len(s) > maxDNSLabelLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isLower(c) && !isDigit(c) && c != '-' {
			return false
		}
	}
	return s[0] != '-' && s[len(s)-1] != '-'
}

// isDNSName reports whether s is a DNS name of one or more labels, compared
// without regard to case. A trailing dot is not allowed.
func isDNSName(s string) bool {
	if s == "" || len(s) > maxNameLen {
		return false
	}
	for label := range strings.SplitSeq(strings.ToLower(s), ".") {
		if !isDNSLabel(label) {
			return false
		}
	}
	return true
}

// isToken reports whether s is an HTTP token (RFC 9110, section 5.6.2), the
// syntax of a header name.
func isToken(s string) bool {
	return onlyBytes(s, "!#$%&'*+-.^_`|~")
}

// isIdentifier reports whether s is a letter or underscore followed by
// letters, digits and underscores.
func isIdentifier(s string) bool {
	if s == "" || isDigit(s[0]) {
		return false
	}
	return onlyBytes(s, "_")
}

// isSecretRef reports whether s is a valid secret reference name.
func isSecretRef(s string) bool {
	return len(s) <= maxSecretRefLen && onlyBytes(s, "._/-")
}

// parsePort parses a decimal port number from 1 to 65535.
func parsePort(s string) (int, bool) {
	if s == "" || !onlyDigits(s) {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, false
	}
	return n, true
}

func onlyDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// hasControl reports whether s contains a control character.
func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || (0x7f <= r && r < 0xa0) {
			return true
		}
	}
	return false
}
