package action

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/internal/escape/escapetest"
	"github.com/microservices-manifests/microservices-manifests/pkg/catalog"
	"github.com/microservices-manifests/microservices-manifests/pkg/diff"
	"github.com/microservices-manifests/microservices-manifests/pkg/publish"
	"github.com/microservices-manifests/microservices-manifests/pkg/report"
)

// namedPlan is a plan result whose every name from the repository is name: findings,
// environment, diff, catalog. failed chooses a failed validation (findings listed).
func namedPlan(name string, failed bool) *PlanResult {
	sev := report.Warning
	if failed {
		sev = report.Error
	}
	rep := &report.Report{Envs: []string{name}, Findings: []report.Finding{
		{Severity: sev, Rule: name, Chart: name, Env: name, File: name, Object: name, Path: name, Message: name},
		{Severity: sev, Rule: "schema", Chart: "app/demo", Env: "dev", File: "app/demo/templates/cm.yaml", Object: "ConfigMap/demo/demo", Message: "bad"},
	}}
	key := diff.Key{Env: name, Chart: name, APIVersion: "v1", Kind: name, Namespace: name, Name: name}
	return &PlanResult{
		Report: rep, Envs: []string{name},
		Files: map[string][]byte{"release/" + name + "/x.yaml": nil},
		Diff: &diff.Result{Base: name, Head: name, Envs: []string{name},
			Versions: []diff.Version{{Chart: name, Base: name, Head: name}},
			Changes:  []diff.Change{{Key: key, Action: diff.Changed, Diff: "-a: 1\n+a: 2\n"}}},
		Catalog: &catalog.Catalog{Envs: []string{name}, Services: []catalog.Service{{Env: name, Name: name, Namespace: name,
			Image: catalog.Image{Registry: name, Repository: name, Tag: name}}}},
		Commit: "0123456789abcdef", Committed: true, CommentURL: "https://github.example/acme/manifests/pull/1#issuecomment-2",
	}
}

func sameMarkup(t *testing.T, what, hostileName, got, want string) {
	t.Helper()
	g, w := escapetest.Markup(got), escapetest.Markup(want)
	if fmt.Sprint(g) != fmt.Sprint(w) {
		t.Errorf("%s with %q: markup %v, want %v:\n%s", what, hostileName, g, w, got)
	}
}

// TestCommentBodyHostileNames: the sticky comment made of hostile names has the markup of
// the one made of normal names: one marker, the same <details>, no heading, image, link or
// mention more.
func TestCommentBodyHostileNames(t *testing.T) {
	for _, failed := range []bool{false, true} {
		normal := CommentBody(namedPlan("demo", failed), 65536)
		if m := escapetest.Markup(normal); m["<!--"] != 1 || m["<details"] != 2 {
			t.Fatalf("the normal comment's markup is %v, want the marker and two <details>:\n%s", m, normal)
		}
		for _, h := range escapetest.Hostile {
			body := CommentBody(namedPlan(h, failed), 65536)
			sameMarkup(t, fmt.Sprintf("comment (failed %v)", failed), h, body, normal)
			if !strings.HasPrefix(body, Marker+"\n") {
				t.Errorf("%q: the body does not start with the marker", h)
			}
		}
	}
}

// TestSummariesHostileNames: the step summaries of plan, validate and publish.
func TestSummariesHostileNames(t *testing.T) {
	for _, h := range escapetest.Hostile {
		for _, failed := range []bool{false, true} {
			sameMarkup(t, "plan summary", h, planSummary(namedPlan(h, failed), h, false), planSummary(namedPlan("demo", failed), "demo", false))
			sameMarkup(t, "findings summary", h, findingsSummary(namedPlan(h, failed).Report), findingsSummary(namedPlan("demo", failed).Report))
		}
		pub := func(name string) *publish.Result {
			return &publish.Result{Env: name, Registry: name, Charts: []publish.Chart{{Chart: name, Version: name, Reference: name, Status: publish.Pushed}}}
		}
		sameMarkup(t, "publish summary", h, publishSummary(pub(h)), publishSummary(pub("demo")))
	}
}

// TestSummariesNormalNames: normal names render as they did before escaping.
func TestSummariesNormalNames(t *testing.T) {
	res := &publish.Result{Env: "prd", Registry: "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/charts", Charts: []publish.Chart{
		{Chart: "app/account", Version: "1.2.0", Status: publish.Pushed, Reference: "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/charts/app/account:1.2.0@sha256:ab"}}}
	want := "## platform publish (prd → 123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/charts)\n\n| chart | version | status | reference |\n|---|---|---|---|\n" +
		"| `app/account` | 1.2.0 | pushed | `123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/charts/app/account:1.2.0@sha256:ab` |\n"
	if got := publishSummary(res); got != want {
		t.Errorf("publish summary:\n%s\nwant:\n%s", got, want)
	}
	rep := &report.Report{Findings: []report.Finding{{Severity: report.Error, Rule: "schema", Chart: "app/demo", File: "app/demo/templates/d.yaml", Line: 3,
		Object: "Deployment/demo/demo", Message: "spec.replicas: must be >= 1"}}}
	if got := findingsSummary(rep); !strings.Contains(got, "| `app/demo/templates/d.yaml:3` | `Deployment/demo/demo` | spec.replicas: must be &gt;= 1 |\n") {
		t.Errorf("findings summary:\n%s", got)
	}
	body := CommentBody(namedPlan("demo", false), 65536)
	if !strings.Contains(body, "The plan is in `release/demo/` (1 files).") || !strings.Contains(body, "| `demo` | `demo` | `demo` | `demo` | `demo` |") {
		t.Errorf("comment:\n%s", body)
	}
}

// TestCommentBodyCutOnCharacter: a comment cut to its limit is still valid UTF-8.
func TestCommentBodyCutOnCharacter(t *testing.T) {
	res := namedPlan(strings.Repeat("é", 200), true)
	for i := 0; i < 200; i++ {
		res.Report.Findings = append(res.Report.Findings, res.Report.Findings[0])
	}
	for limit := 3000; limit < 3010; limit++ {
		body := CommentBody(res, limit)
		if len(body) > limit || !strings.HasSuffix(body, "\n…\n") || !utf8Valid(body) {
			t.Fatalf("limit %d: %d bytes, valid %v", limit, len(body), utf8Valid(body))
		}
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\x00") == s }

// TestPrintDataStopsCommands: on a runner, text from the pull request printed on stdout is
// between stop-commands markers; by hand, it is printed as is.
func TestPrintDataStopsCommands(t *testing.T) {
	text := "added [dev] app/demo ConfigMap/demo/demo (v1)\n+data: |\n ::add-mask::x\n"
	for _, onRunner := range []bool{true, false} {
		var out bytes.Buffer
		r := &run{a: &Action{Stdout: &out, Getenv: func(k string) string {
			if k == "GITHUB_ACTIONS" && onRunner {
				return "true"
			}
			return ""
		}}}
		if err := r.printData(text); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if !onRunner {
			if out.String() != text {
				t.Errorf("by hand: %q", out.String())
			}
			continue
		}
		token, ok := strings.CutPrefix(lines[0], "::stop-commands::")
		if !ok || len(token) < 32 || lines[len(lines)-1] != "::"+token+"::" || strings.Join(lines[1:len(lines)-1], "\n")+"\n" != text {
			t.Errorf("on a runner:\n%s", out.String())
		}
	}
}

// TestRunEscapesTheLog: what the action prints on stderr (progress) and the error main
// prints there are escaped: a working directory with a newline cannot start a command line.
func TestRunEscapesTheLog(t *testing.T) {
	env := map[string]string{
		"INPUT_COMMAND":           "validate",
		"INPUT_WORKING-DIRECTORY": t.TempDir() + "/missing\n::warning::injected\n##[add-mask]x",
	}
	var stdout, stderr bytes.Buffer
	err := (&Action{Getenv: func(k string) string { return env[k] }, Stdout: &stdout, Stderr: &stderr}).Run(context.Background())
	if err == nil {
		t.Fatal("validate of a missing directory succeeded")
	}
	command := regexp.MustCompile(`(?m)^\s*::|##\[`)
	if command.MatchString(stderr.String()) || command.MatchString(err.Error()) {
		t.Errorf("a workflow command in the log:\nstderr:\n%s\nerror: %s", stderr.String(), err)
	}
	if !strings.Contains(stderr.String(), "platform action: validate in ") {
		t.Errorf("no progress line:\n%s", stderr.String())
	}
}
