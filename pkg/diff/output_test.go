package diff

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/internal/escape/escapetest"
)

// named is a result whose every name, version, ref and diff line is name.
func named(name string) *Result {
	key := Key{Env: name, Chart: name, APIVersion: name, Kind: name, Namespace: name, Name: name}
	return &Result{
		Base: name, Head: name, Envs: []string{name, "prd"}, Unchanged: 1,
		Versions: []Version{{Chart: name, Base: name, Head: name}, {Chart: name, Official: name, Envs: []string{name}, Base: name, Head: name}},
		Changes: []Change{
			{Key: key, Action: Changed, AddedLines: 1, RemovedLines: 1, Diff: "--- a/x\n+++ b/x\n@@ -1 +1 @@\n" +
				// A value's lines are lines of the diff, each with its prefix.
				"-" + strings.ReplaceAll(name, "\n", "\n-") + "\n+" + strings.ReplaceAll(name, "\n", "\n+") + "\n " + strings.ReplaceAll(name, "\n", "\n ") + "\n"},
			{Key: Key{Env: "prd", Chart: "app/demo", APIVersion: "v1", Kind: "ConfigMap", Namespace: "demo", Name: "demo"}, Action: Added, Diff: "+a: 1\n", AddedLines: 1},
		},
	}
}

// TestMarkdownHostileNames: whatever the names hold, the diff's Markdown has the markup of
// the same diff with normal names: no tag, comment, heading, image, link or mention more.
func TestMarkdownHostileNames(t *testing.T) {
	want := escapetest.Markup(Markdown(named("demo"), 0))
	if want["<details"] != 2 || want["</details"] != 2 || want["fence"] != 2 {
		t.Fatalf("the normal diff's markup is %v, want two <details> blocks with a fenced diff each", want)
	}
	for _, h := range escapetest.Hostile {
		md := Markdown(named(h), 0)
		if got := escapetest.Markup(md); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%q: markup %v, want %v:\n%s", h, got, want, md)
		}
	}
}

// TestMarkdownFenceLongerThanContent: an object whose YAML holds a run of backticks cannot
// close the diff's fence.
func TestMarkdownFenceLongerThanContent(t *testing.T) {
	r := named("demo")
	r.Changes[0].Diff = "+x: |\n+  ````\n+  </details>\n+  # heading\n"
	md := Markdown(r, 0)
	if !strings.Contains(md, "`````diff\n+x: |\n+  ````\n+  <\u200b/details>\n+  # heading\n`````\n") {
		t.Errorf("the diff is not fenced with five backticks:\n%s", md)
	}
	if got, want := escapetest.Markup(md), escapetest.Markup(Markdown(named("demo"), 0)); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("markup %v, want %v", got, want)
	}
}

var runnerCommand = regexp.MustCompile(`^\s*::|##\[`)

// TestTextHostileNames: the text output has the lines of the same diff with normal names,
// none of them a workflow command or holding a control character.
func TestTextHostileNames(t *testing.T) {
	for _, h := range escapetest.Hostile {
		var buf bytes.Buffer
		if err := Text(&buf, named(h)); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
		headers := 0
		for _, l := range lines[:len(lines)-1] {
			switch {
			case strings.HasPrefix(l, "version ") || strings.HasPrefix(l, "changed [") || strings.HasPrefix(l, "added ["):
				headers++
			case l == "" || !strings.ContainsAny(l[:1], "+- @"):
				t.Errorf("%q: line %q is neither a header nor a diff line", h, l)
			}
		}
		if headers != 4 {
			t.Errorf("%q: %d header lines, want 4:\n%s", h, headers, buf.String())
		}
		for _, l := range lines {
			if runnerCommand.MatchString(l) || strings.ContainsAny(l, "\r\x00\x1b\u202e\u2066") {
				t.Errorf("%q: unsafe line %q", h, l)
			}
		}
	}
}
