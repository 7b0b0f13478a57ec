package escape

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Cut returns the longest prefix of s of at most n bytes that does not split a rune.
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Quote is s for an error or finding message: cut to n bytes on a rune boundary (the cut
// marked with the full length) and quoted with strconv.Quote, so that a repository's
// megabyte name or its control characters, NUL and newlines are never printed as they are.
func Quote(s string, n int) string {
	if len(s) <= n {
		return strconv.Quote(s)
	}
	return strconv.Quote(Cut(s, n)) + fmt.Sprintf("...(%d bytes)", len(s))
}
