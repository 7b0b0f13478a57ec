// Package escapetest holds what the tests of every Markdown and log output share: names an
// attacker would give a chart, an object or an environment, and a reading of Markdown that
// counts the markup GitHub would act on (tags, comments, headings, images, links, mentions)
// outside code spans and fenced blocks, so a test can assert that hostile names add none.
package escapetest

import (
	"regexp"
	"strings"
)

// Hostile are values that break out of unescaped Markdown or log output. Each is one name:
// a test puts it where a chart, object, namespace, environment, version or message goes.
var Hostile = []string{
	"x</code></summary></details><details open><summary>fake",
	"<!-- platform-plan -->",
	"x<!--",
	"--><h1>owned</h1>",
	"x\n# Approved by security\n",
	"cc @acme/security-team and @octocat",
	"![pixel](https://evil.example/p.png)",
	`<img src="https://evil.example/p.png">`,
	"[click](https://evil.example/)",
	"x`</details>`y",
	"``` \n</details>\n```",
	"x\n```\n<img src=x>\n```\ny",
	"a|b| <b>cell</b>",
	"x\n::warning::injected\n::add-mask::hunter2",
	"x\r\n::error::crlf",
	"##[add-mask]hunter2",
	"nul\x00byte\x1b[31mred",
	"bidi\u202egnp.exe\u2066x\u2069",
	"x\n\n<details>",
}

// Markup counts what GitHub renders as markup in md, outside fenced code blocks, inline code
// spans and backslash escapes: each raw HTML tag by name ("<details", "</details", "<!--",
// "-->"), headings ("#" at a line start), blockquotes, images ("!["), links ("]("),
// mentions ("@name") and lines starting with "::"; and, keyed "raw …", the same tags,
// comments, images and mentions anywhere in the raw text, code included. Compare the counts
// of an output made from hostile names with those made from normal ones.
func Markup(md string) map[string]int {
	out := map[string]int{}
	fence := ""
	for _, line := range strings.Split(md, "\n") {
		trimmed := strings.TrimLeft(line, " ")
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) && strings.Trim(trimmed, "` ") == "" {
				fence = ""
			}
			continue
		}
		if run := leadingRun(trimmed, '`'); run >= 3 && len(line)-len(trimmed) <= 3 {
			fence = strings.Repeat("`", run)
			out["fence"]++
			continue
		}
		if strings.HasPrefix(line, "::") || strings.HasPrefix(strings.TrimSpace(line), "::") {
			out["::"]++
		}
		if strings.HasPrefix(trimmed, "#") && len(line)-len(trimmed) <= 3 {
			out["heading"]++
		}
		if strings.HasPrefix(trimmed, ">") {
			out["blockquote"]++
		}
		text := unescape(line)
		if !strings.HasPrefix(trimmed, "<") {
			// Backticks are code spans in Markdown, not inside an HTML block.
			text = stripCodeSpans(text)
		}
		for _, m := range tag.FindAllString(text, -1) {
			out[strings.ToLower(m)]++
		}
		out["<!--"] += strings.Count(text, "<!--")
		out["-->"] += strings.Count(text, "-->")
		out["!["] += strings.Count(text, "![")
		out["]("] += strings.Count(text, "](")
		for _, m := range mention.FindAllString(text, -1) {
			out["mention "+m]++
		}
	}
	// The raw text too, code or not: a tool reading the comment without a Markdown
	// parser (or a later edit that moves a value out of its code span) finds nothing.
	for _, raw := range []string{"<details", "</details", "<summary", "<!--", "-->", "![", "<img", "<h1"} {
		out["raw "+raw] += strings.Count(strings.ToLower(md), raw)
	}
	out["raw mention"] += len(mention.FindAllString(md, -1))
	for k, v := range out {
		if v == 0 {
			delete(out, k)
		}
	}
	return out
}

var (
	tag     = regexp.MustCompile(`</?[A-Za-z][A-Za-z0-9-]*`)
	mention = regexp.MustCompile(`(?:^|[^A-Za-z0-9_\x60])@[A-Za-z0-9][A-Za-z0-9/-]*`)
	escaped = regexp.MustCompile(`\\[!-/:-@\[-\x60{-~]`)
)

// unescape blanks backslash-escaped punctuation, which renders as text.
func unescape(s string) string { return escaped.ReplaceAllString(s, "  ") }

func leadingRun(s string, c byte) int {
	n := 0
	for n < len(s) && s[n] == c {
		n++
	}
	return n
}

// stripCodeSpans blanks inline code spans as CommonMark reads them: a run of n backticks
// opens a span that the next run of exactly n backticks closes; an unmatched run is text.
func stripCodeSpans(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '`' {
			b.WriteByte(s[i])
			i++
			continue
		}
		n := leadingRun(s[i:], '`')
		end := -1
		for j := i + n; j < len(s); {
			if s[j] != '`' {
				j++
				continue
			}
			m := leadingRun(s[j:], '`')
			if m == n {
				end = j + m
				break
			}
			j += m
		}
		if end < 0 {
			b.WriteString(s[i : i+n])
			i += n
			continue
		}
		b.WriteString(" code ")
		i = end
	}
	return b.String()
}
