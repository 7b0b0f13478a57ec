package action

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	yamlv3 "go.yaml.in/yaml/v3"
)

// The workflows' guards (job `if:`, concurrency groups) are GitHub expressions. The tests
// evaluate them for the events an attacker can cause (a fork's pull request, a dispatch from
// another branch) instead of matching their text: actionlint parses them, evalExpr applies
// GitHub's rules (docs.github.com, "Evaluate expressions in workflows and actions"): loose
// equality, case-insensitive string comparison, || and && returning an operand, and the
// string functions the workflows use.

// workflow is a workflow file read as plain YAML values ("on" is a key in yaml.v3).
type workflowFile struct {
	Name string
	On   map[string]any            `yaml:"on"`
	Jobs map[string]map[string]any `yaml:"jobs"`
}

func loadWorkflow(t *testing.T, name string) workflowFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, ".github", "workflows", name))
	if err != nil {
		t.Fatal(err)
	}
	var wf workflowFile
	if err := yamlv3.Unmarshal(data, &wf); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	wf.Name = name
	return wf
}

// job returns a job of the workflow, failing the test when it is missing.
func (wf workflowFile) job(t *testing.T, id string) map[string]any {
	t.Helper()
	j, ok := wf.Jobs[id]
	if !ok {
		t.Fatalf("%s: no job %s", wf.Name, id)
	}
	return j
}

// inputs returns the inputs a trigger (workflow_call, workflow_dispatch) declares.
func (wf workflowFile) inputs(trigger string) map[string]map[string]any {
	out := map[string]map[string]any{}
	on, _ := wf.On[trigger].(map[string]any)
	in, _ := on["inputs"].(map[string]any)
	for k, v := range in {
		m, _ := v.(map[string]any)
		out[k] = m
	}
	return out
}

func wfSteps(job map[string]any) []map[string]any {
	var out []map[string]any
	list, _ := job["steps"].([]any)
	for _, s := range list {
		m, _ := s.(map[string]any)
		out = append(out, m)
	}
	return out
}

func stepByID(t *testing.T, wf workflowFile, jobID, id string) map[string]any {
	t.Helper()
	for _, s := range wfSteps(wf.job(t, jobID)) {
		if s["id"] == id {
			return s
		}
	}
	t.Fatalf("%s: job %s has no step with id %s", wf.Name, jobID, id)
	return nil
}

// ghContext is the expression contexts of one event: github, inputs, ...; nested maps with
// lowercase keys (GitHub's property access is case-insensitive).
type ghContext map[string]any

// event builds the contexts of a run: name is github.event_name, ref github.ref, repo the
// repository running the workflow; prHead (pull requests) is "owner/repo:branch" of the head.
func ghEvent(name, ref, repo, prHead string, inputs map[string]any) ghContext {
	gh := map[string]any{
		"event_name": name,
		"ref":        ref,
		"repository": repo,
		"sha":        strings.Repeat("a", 40),
		"head_ref":   "",
		"event":      map[string]any{},
	}
	gh["ref_name"] = ref
	for _, prefix := range []string{"refs/heads/", "refs/tags/", "refs/pull/"} {
		if strings.HasPrefix(ref, prefix) {
			gh["ref_name"] = strings.TrimPrefix(ref, prefix)
		}
	}
	if prHead != "" {
		headRepo, branch, _ := strings.Cut(prHead, ":")
		gh["head_ref"] = branch
		gh["event"] = map[string]any{"pull_request": map[string]any{
			"number": 7.0,
			"head": map[string]any{
				"ref":  branch,
				"sha":  strings.Repeat("b", 40),
				"repo": map[string]any{"full_name": headRepo},
			},
		}}
	}
	in := map[string]any{}
	for k, v := range inputs {
		in[strings.ToLower(k)] = v
	}
	return ghContext{"github": gh, "inputs": in, "vars": map[string]any{}}
}

// evalIf evaluates a job's `if:` as GitHub does: with or without ${{ }}, and true when
// absent.
func evalIf(t *testing.T, cond any, ctx ghContext) bool {
	t.Helper()
	s, ok := cond.(string)
	if cond == nil {
		return true
	}
	if !ok {
		b, _ := cond.(bool)
		return b
	}
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "${{") && strings.HasSuffix(s, "}}") && strings.Count(s, "${{") == 1 {
		s = strings.TrimSuffix(strings.TrimPrefix(s, "${{"), "}}")
	}
	return exprTruthy(evalExpr(t, s, ctx))
}

// evalTemplate evaluates a string with ${{ }} parts (a concurrency group, a with: value).
func evalTemplate(t *testing.T, s string, ctx ghContext) string {
	t.Helper()
	var b strings.Builder
	for {
		i := strings.Index(s, "${{")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			t.Fatalf("unterminated ${{ in %q", s)
		}
		b.WriteString(exprString(evalExpr(t, s[i+3:i+j], ctx)))
		s = s[i+j+2:]
	}
}

func evalExpr(t *testing.T, src string, ctx ghContext) any {
	t.Helper()
	node, err := actionlint.NewExprParser().Parse(actionlint.NewExprLexer(src + "}}"))
	if err != nil {
		t.Fatalf("parse expression %q: %v", src, err)
	}
	v, e := evalNode(node, ctx)
	if e != nil {
		t.Fatalf("evaluate %q: %v", src, e)
	}
	return v
}

func evalNode(n actionlint.ExprNode, ctx ghContext) (any, error) {
	switch n := n.(type) {
	case *actionlint.VariableNode:
		return ctx[strings.ToLower(n.Name)], nil
	case *actionlint.NullNode:
		return nil, nil
	case *actionlint.BoolNode:
		return n.Value, nil
	case *actionlint.IntNode:
		return float64(n.Value), nil
	case *actionlint.FloatNode:
		return n.Value, nil
	case *actionlint.StringNode:
		return n.Value, nil
	case *actionlint.ObjectDerefNode:
		r, err := evalNode(n.Receiver, ctx)
		if err != nil {
			return nil, err
		}
		return exprProperty(r, n.Property), nil
	case *actionlint.IndexAccessNode:
		r, err := evalNode(n.Operand, ctx)
		if err != nil {
			return nil, err
		}
		i, err := evalNode(n.Index, ctx)
		if err != nil {
			return nil, err
		}
		return exprProperty(r, exprString(i)), nil
	case *actionlint.NotOpNode:
		v, err := evalNode(n.Operand, ctx)
		return !exprTruthy(v), err
	case *actionlint.LogicalOpNode:
		l, err := evalNode(n.Left, ctx)
		if err != nil {
			return nil, err
		}
		if n.Kind == actionlint.LogicalOpNodeKindAnd && !exprTruthy(l) || n.Kind == actionlint.LogicalOpNodeKindOr && exprTruthy(l) {
			return l, nil
		}
		return evalNode(n.Right, ctx)
	case *actionlint.CompareOpNode:
		l, err := evalNode(n.Left, ctx)
		if err != nil {
			return nil, err
		}
		r, err := evalNode(n.Right, ctx)
		if err != nil {
			return nil, err
		}
		switch n.Kind {
		case actionlint.CompareOpNodeKindEq:
			return exprEqual(l, r), nil
		case actionlint.CompareOpNodeKindNotEq:
			return !exprEqual(l, r), nil
		}
		return nil, fmt.Errorf("comparison %s is not supported here", n.Kind)
	case *actionlint.FuncCallNode:
		var args []any
		for _, a := range n.Args {
			v, err := evalNode(a, ctx)
			if err != nil {
				return nil, err
			}
			args = append(args, v)
		}
		switch strings.ToLower(n.Callee) {
		case "startswith":
			return strings.HasPrefix(strings.ToLower(exprString(args[0])), strings.ToLower(exprString(args[1]))), nil
		case "endswith":
			return strings.HasSuffix(strings.ToLower(exprString(args[0])), strings.ToLower(exprString(args[1]))), nil
		case "contains":
			return strings.Contains(strings.ToLower(exprString(args[0])), strings.ToLower(exprString(args[1]))), nil
		case "success", "always":
			return true, nil
		case "failure", "cancelled":
			return false, nil
		}
		return nil, fmt.Errorf("function %s is not supported here", n.Callee)
	}
	return nil, fmt.Errorf("expression node %T is not supported here", n)
}

func exprProperty(r any, name string) any {
	m, ok := r.(map[string]any)
	if !ok {
		return nil
	}
	if v, ok := m[name]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

func exprTruthy(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case bool:
		return v
	case float64:
		return v != 0 && !math.IsNaN(v)
	case string:
		return v != ""
	}
	return true
}

// looseEqual is GitHub's ==: strings compare case-insensitively; other mixed types compare
// as numbers.
func exprEqual(l, r any) bool {
	ls, lok := l.(string)
	rs, rok := r.(string)
	if lok && rok {
		return strings.EqualFold(ls, rs)
	}
	if l == nil && r == nil {
		return true
	}
	switch l.(type) {
	case map[string]any, []any:
		return false
	}
	ln, rn := exprNumber(l), exprNumber(r)
	return !math.IsNaN(ln) && ln == rn
}

func exprNumber(v any) float64 {
	switch v := v.(type) {
	case nil:
		return 0
	case bool:
		if v {
			return 1
		}
		return 0
	case float64:
		return v
	case string:
		if strings.TrimSpace(v) == "" {
			return 0
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return math.NaN()
		}
		return f
	}
	return math.NaN()
}

func exprString(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// TestWorkflowExprEvaluator pins the evaluator to GitHub's documented semantics, so the guards' tests
// below mean what they say.
func TestWorkflowExprEvaluator(t *testing.T) {
	ctx := ghEvent("pull_request", "refs/pull/7/merge", "o/r", "fork/r:release/1.0", map[string]any{"environment": "PRD"})
	for _, tc := range []struct {
		expr string
		want any
	}{
		{"github.event.pull_request.head.repo.full_name == github.repository", false},
		{"github.event.pull_request.head.repo.full_name", "fork/r"},
		{"inputs.environment == 'prd'", true}, // case-insensitive
		{"startsWith(github.head_ref, 'RELEASE/')", true},
		{"github.head_ref || github.ref_name", "release/1.0"},
		{"github.missing || 'x'", "x"},
		{"inputs.environment && 'y'", "y"},
		{"!(github.event_name == 'push')", true},
		{"github.event.pull_request.number == '7'", true},
		{"github['event_name']", "pull_request"},
	} {
		if got := evalExpr(t, tc.expr, ctx); got != tc.want {
			t.Errorf("%s = %#v, want %#v", tc.expr, got, tc.want)
		}
	}
	if got := evalTemplate(t, "a-${{ github.repository }}-${{ github.head_ref }}", ctx); got != "a-o/r-release/1.0" {
		t.Errorf("template = %q", got)
	}
}
