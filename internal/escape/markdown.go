package escape

import (
	"html"
	"strings"
	"unicode/utf8"
)

// MaxInline bounds one interpolated value in Markdown, in characters: longer values are cut
// and end with "…" (a Kubernetes object's Kind/namespace/name fits; a 10 MB name does not
// fill the comment).
const MaxInline = 300

// MaxText bounds a plain-text value (a finding message), in characters.
const MaxText = 2000

// bound cuts s to n characters, the last one "…".
func bound(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i, count := 0, 0
	for i = range s {
		if count == n-1 {
			break
		}
		count++
	}
	return s[:i] + "…"
}

// Code is s as an inline code span, for Markdown outside tables: nothing inside a code
// span is Markdown, HTML or a mention, so the only ways out are a newline (escaped) and a
// run of backticks as long as the span's (the span's delimiter is longer than any run in
// s). An empty s is an empty string, not an empty span.
func Code(s string) string {
	return code(s, false)
}

// Cell is Code for a table cell: a "|", which GitHub splits cells on even inside a code
// span, is escaped as "\|" (shown as "|").
func Cell(s string) string {
	return code(s, true)
}

func code(s string, cell bool) string {
	if s == "" {
		return ""
	}
	v := defang(bound(Visible(s), MaxInline))
	if cell {
		v = strings.ReplaceAll(v, "|", `\|`)
	}
	delim := strings.Repeat("`", longestRun(v, '`')+1)
	// A space on both sides is stripped by the parser: it lets a value start or end with a
	// backtick (or a space) and keeps it as it is.
	if strings.HasPrefix(v, "`") || strings.HasSuffix(v, "`") || strings.HasPrefix(v, " ") || strings.HasSuffix(v, " ") {
		v = " " + v + " "
	}
	return delim + v + delim
}

func longestRun(s string, c byte) int {
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest
}

// HTML is s for raw HTML context, such as the text of a <summary> (where Markdown is not
// parsed but tags are): HTML-escaped, so it can neither close the <details> nor open a
// comment, with newlines escaped (a blank line would end the HTML block) and mentions
// neutralised.
func HTML(s string) string {
	return mentions(htmlMarkdown.Replace(html.EscapeString(bound(Visible(s), MaxInline))))
}

// htmlMarkdown writes as character references what would be a link, an image or a code
// span if the text were ever read as Markdown (GitHub reads none in an HTML block; this
// does not rely on it).
var htmlMarkdown = strings.NewReplacer("[", "&#91;", "]", "&#93;", "!", "&#33;", "`", "&#96;")

// Text is s as plain Markdown text in the middle of a line (a table cell, after a label):
// "<", ">" and "&" are written as character references (no tag, comment or entity can
// start, and the raw text holds none), every other character that opens inline Markdown
// (` * _ [ ] | ~ $ ! \) is backslash-escaped, a leading character that could start a block (# - + = or "1. ") too,
// and mentions are neutralised. Newlines are escaped; the value is bounded by MaxText.
func Text(s string) string {
	v := bound(Visible(s), MaxText)
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '<':
			b.WriteString("&lt;")
			continue
		case c == '>':
			b.WriteString("&gt;")
			continue
		case c == '&':
			b.WriteString("&amp;")
			continue
		case strings.IndexByte("\\`*_[]|~$!", c) >= 0:
			b.WriteByte('\\')
		case i == 0 && strings.IndexByte("#-+=", c) >= 0:
			b.WriteByte('\\')
		case (c == '.' || c == ')') && i > 0 && allDigits(v[:i]) && (i+1 == len(v) || v[i+1] == ' '):
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return mentions(b.String())
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// defang breaks, with a zero-width space, the sequences that are markup outside code:
// "<" before an HTML element's name ("<details", "<img"; not "<redacted>"), before "/",
// "!" or "?" ("</x", "<!--"), "-->", "![" and "@" starting a mention. Inside a code span or block GitHub renders none of them, so what
// the reader sees is unchanged; but the raw comment then holds no tag, comment or mention
// either, for a tool (or a later edit) that reads it without a Markdown parser. Normal
// names and diffs hold none of these; an e-mail or "image@sha256:…" is not a mention.
func defang(s string) string {
	if !strings.ContainsAny(s, "<>[@") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		b.WriteByte(c)
		next := byte(0)
		if i+1 < len(s) {
			next = s[i+1]
		}
		switch {
		case c == '<' && (next == '/' || next == '!' || next == '?' || htmlElement(s[i+1:])),
			c == '!' && next == '[',
			c == '-' && next == '>' && i > 0 && s[i-1] == '-',
			c == '@' && (isAlpha(next) || isDigit(next)) && (i == 0 || !isWord(s[i-1])):
			b.WriteString(zeroWidthSpace)
		}
	}
	return b.String()
}

// htmlElement reports whether s starts with the name of an HTML element (then a character
// that ends a tag name).
func htmlElement(s string) bool {
	n := 0
	for n < len(s) && (isAlpha(s[n]) || n > 0 && isDigit(s[n])) {
		n++
	}
	if n == 0 || n < len(s) && s[n] != ' ' && s[n] != '>' && s[n] != '/' && s[n] != '\t' {
		return false
	}
	return htmlElements[strings.ToLower(s[:n])]
}

var htmlElements = func() map[string]bool {
	m := map[string]bool{}
	for _, e := range strings.Fields(`a abbr address area article aside audio b base bdi bdo blockquote body br button
		canvas caption center cite code col colgroup data datalist dd del details dfn dialog div dl dt em embed
		fieldset figcaption figure font footer form frame frameset h1 h2 h3 h4 h5 h6 head header hr html i iframe
		img input ins kbd label legend li link main map mark marquee math menu meta meter nav noscript object ol
		optgroup option output p param picture plaintext pre progress q rp rt ruby s samp script section select
		slot small source span strike strong style sub summary sup svg table tbody td template textarea tfoot th
		thead time title tr track tt u ul var video wbr xmp`) {
		m[e] = true
	}
	return m
}()

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isWord(c byte) bool  { return isAlpha(c) || isDigit(c) || c == '_' }

// zeroWidthSpace after an "@" keeps the text as it reads but is not a mention: GitHub
// notifies the users and teams it finds in the rendered text, and a backslash or an HTML
// entity would still render as a plain "@".
const zeroWidthSpace = "\u200b"

func mentions(s string) string {
	return strings.ReplaceAll(s, "@", "@"+zeroWidthSpace)
}

// Fenced is body as a fenced code block with info string info (e.g. "diff"): its fence is
// longer than any run of backticks in body, so no line of body closes it, and control and
// format characters of every line are escaped. The block ends with a newline.
func Fenced(info, body string) string {
	lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
	for i, l := range lines {
		lines[i] = defang(Visible(l))
	}
	body = strings.Join(lines, "\n")
	fence := strings.Repeat("`", max(3, longestRun(body, '`')+1))
	return fence + Visible(info) + "\n" + body + "\n" + fence + "\n"
}
