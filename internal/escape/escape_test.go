package escape_test

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/internal/escape"
	"github.com/microservices-manifests/microservices-manifests/internal/escape/escapetest"
)

func TestLine(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"normal name", "Deployment/demo/demo-db", "Deployment/demo/demo-db"},
		{"path with colon", "app/demo: spec.replicas", "app/demo: spec.replicas"},
		{"newline starts a command", "x\n::warning::y", `x\n::warning::y`},
		{"CR LF", "x\r\n::add-mask::s", `x\r\n::add-mask::s`},
		{"leading command", "::add-mask::hunter2", `\x3a:add-mask::hunter2`},
		{"leading command after spaces", "  ::error::x", `  \x3a:error::x`},
		{"legacy command anywhere", "name ##[add-mask]s", `name ##\x5badd-mask]s`},
		{"NUL and ESC", "a\x00b\x1b[31m", `a\x00b\x1b[31m`},
		{"DEL and C1", "a\x7fb\u0085", `a\x7fb\u0085`},
		{"bidi overrides", "a\u202eb\u2066c\u2069", `a\u202eb\u2066c\u2069`},
		{"zero width and separators", "a\u200bb\u2028c", `a\u200bb\u2028c`},
		{"invalid UTF-8", "a\xffb", `a\ufffdb`},
		{"tab", "a\tb", `a\tb`},
		{"unicode text kept", "café → ok", "café → ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := escape.Line(tc.in); got != tc.want {
				t.Errorf("Line(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// commandLine is a line the runner would parse as a workflow command: "::" at its start
// after spaces, or the legacy "##[" anywhere.
var commandLine = regexp.MustCompile(`(?m)^\s*::|##\[`)

func TestLineHostile(t *testing.T) {
	for _, h := range escapetest.Hostile {
		got := escape.Line(h)
		if strings.ContainsAny(got, "\n\r\x00\x1b\u202e\u2066") {
			t.Errorf("Line(%q) = %q keeps a control character", h, got)
		}
		if commandLine.MatchString(got) {
			t.Errorf("Line(%q) = %q is a workflow command", h, got)
		}
	}
}

func TestBlock(t *testing.T) {
	in := "apiVersion: v1\n  ::warning::x\n##[error]y\nz\x1b\n"
	want := "apiVersion: v1\n  \\x3a:warning::x\n##\\x5berror]y\nz\\x1b\n"
	if got := escape.Block(in); got != want {
		t.Errorf("Block = %q, want %q", got, want)
	}
}

func TestWriter(t *testing.T) {
	var out bytes.Buffer
	w := escape.NewWriter(&out)
	fmt.Fprintf(w, "rendered %s\n", "demo")
	fmt.Fprintf(w, "pushed %s", "x\n::add-mask::s")
	fmt.Fprintf(w, " done\npartial ::")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "rendered demo\npushed x\n\\x3a:add-mask::s done\npartial ::\n"
	if out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

func TestStopCommands(t *testing.T) {
	var out bytes.Buffer
	if err := escape.StopCommands(&out, "::warning::inside\n"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "::stop-commands::") || lines[1] != "::warning::inside" {
		t.Fatalf("got %q", out.String())
	}
	token := strings.TrimPrefix(lines[0], "::stop-commands::")
	if len(token) < 32 || lines[2] != "::"+token+"::" {
		t.Errorf("token %q, end %q", token, lines[2])
	}
	var again bytes.Buffer
	escape.StopCommands(&again, "x")
	if strings.Contains(again.String(), token) {
		t.Error("the token is reused")
	}
}

func TestCode(t *testing.T) {
	for _, tc := range []struct{ name, in, code, cell string }{
		{"normal", "ConfigMap/demo/demo", "`ConfigMap/demo/demo`", "`ConfigMap/demo/demo`"},
		{"empty", "", "", ""},
		{"backtick inside", "a`b", "``a`b``", "``a`b``"},
		{"backtick run", "a```b", "````a```b````", "````a```b````"},
		{"backtick at the edge", "`x", "`` `x ``", "`` `x ``"},
		{"pipe", "a|b", "`a|b`", "`a\\|b`"},
		{"markup defanged", "</details><!--@x", "`<\u200b/details><\u200b!--@\u200bx`", "`<\u200b/details><\u200b!--@\u200bx`"},
		{"digest reference kept", "registry/app:1.0@sha256:ab", "`registry/app:1.0@sha256:ab`", "`registry/app:1.0@sha256:ab`"},
		{"backslash before pipe", `a\|b`, "`a\\|b`", "`a\\\\|b`"},
		{"newline", "a\n# b", "`a\\n# b`", "`a\\n# b`"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := escape.Code(tc.in); got != tc.code {
				t.Errorf("Code(%q) = %q, want %q", tc.in, got, tc.code)
			}
			if got := escape.Cell(tc.in); got != tc.cell {
				t.Errorf("Cell(%q) = %q, want %q", tc.in, got, tc.cell)
			}
		})
	}
	long := escape.Code(strings.Repeat("a", 10<<20))
	if n := len([]rune(long)); n > escape.MaxInline+2 || !strings.HasSuffix(long, "…`") {
		t.Errorf("a 10 MB name gives %d characters ending %q", n, long[len(long)-8:])
	}
}

func TestHTML(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"normal", "ConfigMap/demo/demo", "ConfigMap/demo/demo"},
		{"closes details", "</code></summary></details>", "&lt;/code&gt;&lt;/summary&gt;&lt;/details&gt;"},
		{"comment", "<!-- x -->", "&lt;&#33;-- x --&gt;"},
		{"image", "![a](b)", "&#33;&#91;a&#93;(b)"},
		{"quotes and ampersand", `a"b'c&d`, "a&#34;b&#39;c&amp;d"},
		{"mention", "@acme/team", "@\u200bacme/team"},
		{"blank line ends the block", "a\n\nb", `a\n\nb`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := escape.HTML(tc.in); got != tc.want {
				t.Errorf("HTML(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestText(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"normal", "spec.replicas: must be >= 1", `spec.replicas: must be &gt;= 1`},
		{"version", "0.1.0", "0.1.0"},
		{"env", "dev-eu", "dev-eu"},
		{"heading", "# title", `\# title`},
		{"list", "1. item", `1\. item`},
		{"image", "![a](http://x/p.png)", `\!\[a\](http://x/p.png)`},
		{"html", "<img src=x>", `&lt;img src=x&gt;`},
		{"comment", "<!--", `&lt;\!--`},
		{"entity", "&lt;", `&amp;lt;`},
		{"emphasis and code", "*a* _b_ `c` ~d~ $e$ |f|", "\\*a\\* \\_b\\_ \\`c\\` \\~d\\~ \\$e\\$ \\|f\\|"},
		{"mention", "cc @octocat", "cc @\u200boctocat"},
		{"newline", "a\n## b", `a\\n## b`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := escape.Text(tc.in); got != tc.want {
				t.Errorf("Text(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestFenced(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"normal", "+a: 1\n-a: 2\n", "```diff\n+a: 1\n-a: 2\n```\n"},
		{"fence inside", "+x: |\n+  ```\n+  </details>\n", "````diff\n+x: |\n+  ```\n+  <\u200b/details>\n````\n"},
		{"markup defanged", "+<!-- x --> ![i](u) @team a@b img@sha256:x <img src=x> <H1>\n", "```diff\n+<\u200b!-- x --\u200b> !\u200b[i](u) @\u200bteam a@b img@sha256:x <\u200bimg src=x> <\u200bH1>\n```\n"},
		{"placeholder kept", "-  password: <redacted>\n+  password: <redacted> (changed)\n", "```diff\n-  password: <redacted>\n+  password: <redacted> (changed)\n```\n"},
		{"control characters", "+a\x1b[2J\u202e\n", "```diff\n+a\\x1b[2J\\u202e\n```\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := escape.Fenced("diff", tc.body); got != tc.want {
				t.Errorf("Fenced(%q) = %q, want %q", tc.body, got, tc.want)
			}
		})
	}
}

// TestMarkdownHostile puts every hostile value in each Markdown context the outputs use
// and asserts the result carries no markup beyond the context's own. The naive
// interpolations beside them show that Markup notices what an unescaped value adds.
func TestMarkdownHostile(t *testing.T) {
	contexts := map[string]func(string) string{
		"cell": func(v string) string { return "| " + escape.Cell(v) + " | " + escape.Text(v) + " |\n" },
		"code": func(v string) string { return "Committed as " + escape.Code(v) + ".\n" },
		"summary": func(v string) string {
			return "<details><summary>added <code>" + escape.HTML(v) + "</code></summary>\n\n</details>\n"
		},
		"text":   func(v string) string { return "**" + escape.Text(v) + "**\n" },
		"fenced": func(v string) string { return escape.Fenced("diff", "+"+v+"\n") },
	}
	naive := map[string]func(string) string{
		"cell": func(v string) string { return "| `" + v + "` | " + v + " |\n" },
		"summary": func(v string) string {
			return "<details><summary>added <code>" + v + "</code></summary>\n\n</details>\n"
		},
		"fenced": func(v string) string { return "```diff\n+" + v + "\n```\n" },
	}
	for name, render := range contexts {
		want := escapetest.Markup(render("demo"))
		caught := 0
		for _, h := range escapetest.Hostile {
			if got := escapetest.Markup(render(h)); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s: %q gives markup %v, want %v:\n%s", name, h, got, want, render(h))
			}
			if n, ok := naive[name]; ok && fmt.Sprint(escapetest.Markup(n(h))) != fmt.Sprint(want) {
				caught++
			}
		}
		if _, ok := naive[name]; ok && caught == 0 {
			t.Errorf("%s: Markup finds nothing wrong in the naive interpolation", name)
		}
	}
}
