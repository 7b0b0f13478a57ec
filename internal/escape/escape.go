// Package escape is the one place where text read from a repository (object, chart and
// environment names, versions, finding messages, catalog cells, refs: all of it may be
// written by whoever opens a pull request) is made safe for the two places the action
// prints it:
//
//   - Markdown (the sticky pull-request comment and the step summary, rendered by GitHub):
//     Code for an inline code span (table cells), HTML for raw HTML context (inside
//     <details><summary>), Text for plain Markdown text, Fence for a fenced block. Every
//     interpolation of every Markdown output goes through one of them, so that no name can
//     close a <details>, open an HTML comment that hides the rest of the comment (or fakes
//     its marker), add a heading, an image, a link or an @-mention.
//   - The runner log (text outputs on stdout and progress on stderr, which the runner
//     parses for workflow commands): Line for one field, Block for multi-line text, Writer
//     for a whole stream, StopCommands around bulk text. No field can start a line, so no
//     name can emit ::warning::, ::add-mask:: or ##[stop-commands] (which the runner
//     accepts anywhere in a line).
//
// Control characters (newline, CR, NUL, ESC, DEL, C1), invalid UTF-8, Unicode format
// characters (among them the bidi controls U+202A–U+202E and U+2066–U+2069, which reorder
// what a reviewer reads) and line/paragraph separators are written as Go-style escapes
// (\n, \x1b, \u202e) in both contexts. Normal names (DNS labels, paths, versions) come out
// unchanged.
package escape

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// control writes r as a visible escape when it is not safe to print as is, and reports
// whether it did.
func control(b *strings.Builder, r rune, width int) bool {
	switch {
	case r == utf8.RuneError && width == 1:
		b.WriteString(`\ufffd`)
	case r == '\n':
		b.WriteString(`\n`)
	case r == '\r':
		b.WriteString(`\r`)
	case r == '\t':
		b.WriteString(`\t`)
	case r < 0x20 || r == 0x7f:
		b.WriteString(`\x`)
		b.WriteString(hex2(byte(r)))
	case r == ' ':
		return false
	case !unicode.IsPrint(r) || unicode.Is(unicode.Cf, r):
		// Not printable: C1 controls, format characters (bidi controls, zero-width
		// characters), separators other than the ASCII space, unassigned code points.
		b.WriteString(`\u`)
		if r > 0xffff {
			b.WriteString(hex2(byte(r >> 24)))
			b.WriteString(hex2(byte(r >> 16)))
		}
		b.WriteString(hex2(byte(r >> 8)))
		b.WriteString(hex2(byte(r)))
	default:
		return false
	}
	return true
}

func hex2(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&0xf]})
}

// Line makes s safe as one field of a line printed to the runner log or a terminal:
// control and format characters are escaped, "##[" (the runner's legacy command prefix,
// recognised anywhere in a line) loses its bracket, and a field that would start a line
// with "::" (after spaces, as the runner trims them) has its first colon escaped.
func Line(s string) string {
	return line(s, true, true)
}

// Visible escapes the control and format characters of s (newlines included), and nothing
// else: what a reviewer reads is what the bytes say.
func Visible(s string) string {
	return line(s, false, false)
}

// line escapes one line (no newline kept); lineStart says whether it may begin a line of
// the log and commands whether to neutralise the runner's command prefixes.
func line(s string, lineStart, commands bool) string {
	if isPlain(s) {
		return s
	}
	var b strings.Builder
	leading := lineStart && commands
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		switch {
		case leading && r == ':' && strings.HasPrefix(s[i:], "::"):
			b.WriteString(`\x3a`)
			leading = false
		case commands && r == '#' && strings.HasPrefix(s[i:], "##["):
			b.WriteString(`##\x5b`)
			w = 3
		case control(&b, r, w):
		default:
			b.WriteString(s[i : i+w])
		}
		if r != ' ' {
			leading = false
		}
		i += w
	}
	return b.String()
}

// isPlain reports whether s has nothing Line would change (the common case, kept fast).
func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == ':' || c == '#' {
			return false
		}
	}
	return true
}

// Block is Line for multi-line text (a diff, a rendered document): its newlines are kept
// and every line is escaped as if it started a line of the log.
func Block(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = Line(l)
	}
	return strings.Join(lines, "\n")
}
