package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Git runs git in dir with a fixed identity and clock and no user configuration, so that
// scripted repositories are the same on every machine; it returns the trimmed stdout.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), GitEnv()...)
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return strings.TrimSpace(string(out))
}

// GitEnv is the environment Git uses: no global or system configuration, a fixed author,
// committer and date.
func GitEnv() []string {
	return []string{
		"GIT_CONFIG_GLOBAL=" + os.DevNull, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=test", "GIT_AUTHOR_EMAIL=test@example.invalid",
		"GIT_COMMITTER_NAME=test", "GIT_COMMITTER_EMAIL=test@example.invalid",
		"GIT_AUTHOR_DATE=2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2026-01-01T00:00:00Z",
	}
}

// GitRepo is Repo committed as the first commit of branch main of a new git repository.
func GitRepo(t testing.TB, base string, overlays ...string) string {
	t.Helper()
	dir := Repo(t, base, overlays...)
	Git(t, dir, "init", "--quiet", "--initial-branch=main")
	Commit(t, dir, "base")
	return dir
}

// Commit stages every change in dir and commits it with message msg.
func Commit(t testing.TB, dir, msg string) string {
	t.Helper()
	Git(t, dir, "add", "--all")
	Git(t, dir, "commit", "--quiet", "--allow-empty", "-m", msg)
	return Git(t, dir, "rev-parse", "HEAD")
}

// WriteFile writes content to dir/name, creating directories.
func WriteFile(t testing.TB, dir, name, content string) {
	t.Helper()
	WritePath(t, filepath.Join(dir, filepath.FromSlash(name)), content)
}

// WritePath writes content to path, creating directories.
func WritePath(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Symlink makes link a symbolic link to target, creating link's directory: the hostile
// fixtures plant them where a pull request could.
func Symlink(t testing.TB, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}
