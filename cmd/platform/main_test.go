package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// TestErrorCannotIssueWorkflowCommands: a directory name is the attacker's, and errors
// quote it; printed raw, its newline would start a workflow command in the runner's log.
func TestErrorCannotIssueWorkflowCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "platform")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	root := t.TempDir()
	chart := filepath.Join(root, "app", "x\n::warning::pwned")
	if err := os.MkdirAll(chart, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(chart, "Chart.yaml"), []byte("apiVersion: v2\nversion: 0.1.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--root", root, "validate").CombinedOutput()
	if err == nil {
		t.Fatalf("a chart without a name validated:\n%s", out)
	}
	if !regexp.MustCompile(`missing name`).Match(out) {
		t.Errorf("the error does not say what is wrong:\n%s", out)
	}
	if regexp.MustCompile(`(?m)^\s*::warning::`).Match(out) {
		t.Errorf("the error issued a workflow command:\n%s", out)
	}
}
