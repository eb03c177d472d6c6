package routes

import (
	"fmt"
	"strings"
)

// A hintSet says which checks a string needs: bit i stands for
// tokenDetectors[i], and the high bits for the checks by context.
type hintSet uint64

// The checks by context, each run only on a string that holds one of
// its hints.
const (
	authorizationHints hintSet = 1 << (63 - iota) // findAuthorization
	assignmentHints                               // findAssignment
	awsAssignmentHints                            // the assignment part of findAWSSecret
)

// contextHints are the hints of the checks by context. Those that fold
// are lower case and match without regard to ASCII case.
var contextHints = []struct {
	set   hintSet
	hints []string
	fold  bool
}{
	{authorizationHints, []string{"bearer", "basic", "token"}, true},
	{assignmentHints, []string{"passw", "secret"}, true},
	{awsAssignmentHints, []string{"=", ":"}, false},
}

// tokenHints are the bits of the token detectors.
var tokenHints hintSet

// A hint is a substring whose presence in a string makes the checks of
// set run on it.
type hint struct {
	text string
	fold bool // text is lower case and matches without regard to ASCII case
	set  hintSet
}

// A hintGroup holds the hints that start with one byte.
type hintGroup struct {
	hints []hint
	// next holds each byte that follows the first in one of the hints,
	// in both cases for a hint that folds, and every byte if a hint is
	// that one byte alone. Most bytes that start a hint in a string are
	// not followed by one of these, and this test is cheaper than trying
	// each hint of the group.
	next byteSet
}

// hintGroups holds the hints by their first byte, in both cases for a
// hint that folds, so that one pass over a string finds every hint it
// holds: at each byte only the few hints that start with it are tried.
// A byte that starts no hint has no group.
var hintGroups [256]*hintGroup

// byteSet is a set of bytes, one bit each.
type byteSet [4]uint64

func (b *byteSet) add(c byte)           { b[c>>6] |= 1 << (c & 63) }
func (b *byteSet) contains(c byte) bool { return b[c>>6]&(1<<(c&63)) != 0 }

func init() {
	if len(tokenDetectors) > 64-len(contextHints) {
		panic(fmt.Sprintf("routes: %d token detectors leave no bits for the checks by context",
			len(tokenDetectors)))
	}
	tokenHints = 1<<len(tokenDetectors) - 1
	for i, d := range tokenDetectors {
		addHints(d.hints, false, 1<<i)
		addHints(d.foldHints, true, 1<<i)
	}
	for _, c := range contextHints {
		addHints(c.hints, c.fold, c.set)
	}
}

// addHints adds each of texts to hintGroups as a hint for set.
func addHints(texts []string, fold bool, set hintSet) {
	for _, text := range texts {
		if text == "" || fold && strings.ToLower(text) != text {
			panic(fmt.Sprintf("routes: hint %q must be non-empty, and lower case to fold", text))
		}
		h := hint{text: text, fold: fold, set: set}
		addHint(text[0], h)
		if upper := asciiUpper(text[0]); fold && upper != text[0] {
			addHint(upper, h)
		}
	}
}

// addHint adds h to the group of hints that start with the byte first.
func addHint(first byte, h hint) {
	g := hintGroups[first]
	if g == nil {
		g = &hintGroup{}
		hintGroups[first] = g
	}
	g.hints = append(g.hints, h)
	for c := 0; c < 256; c++ {
		switch {
		case len(h.text) == 1,
			byte(c) == h.text[1],
			h.fold && asciiLower(byte(c)) == h.text[1]:
			g.next.add(byte(c))
		}
	}
}

// scanHints returns the checks whose hints s holds, in one pass over s.
// A hint that folds matches where its bytes equal those of s up to ASCII
// case. That is all strings.EqualFold can match too: the runes it folds
// to ASCII letters, such as the Kelvin sign, take more than one byte, so
// a window of s as long as an ASCII hint that holds one has fewer runes
// than the hint.
func scanHints(s string) hintSet {
	var found hintSet
	for i := 0; i < len(s); i++ {
		g := hintGroups[s[i]]
		if g == nil || i+1 < len(s) && !g.next.contains(s[i+1]) {
			continue
		}
		for j := range g.hints {
			if h := &g.hints[j]; found&h.set == 0 && h.startOf(s[i:]) {
				found |= h.set
			}
		}
	}
	return found
}

// startOf reports whether s starts with h, given that the first byte of
// s is one that h is listed under in hintGroups. The hints are a few
// bytes long, and a loop over them costs less than a call to compare
// memory.
func (h *hint) startOf(s string) bool {
	if len(s) < len(h.text) {
		return false
	}
	for j := 1; j < len(h.text); j++ {
		c := s[j]
		if h.fold {
			c = asciiLower(c)
		}
		if c != h.text[j] {
			return false
		}
	}
	return true
}

func asciiLower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func asciiUpper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}
