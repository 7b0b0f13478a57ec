package action

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	// pinnedFrom is FROM [--platform=P] IMAGE:TAG@sha256:DIGEST [AS NAME]: the tag says what
	// it is (and lets Renovate propose updates), the digest says exactly which bytes.
	pinnedFrom = regexp.MustCompile(`^(?:--platform=\S+\s+)?[a-z0-9][a-z0-9._/:-]*:[\w][\w.-]*@sha256:[0-9a-f]{64}(?:\s+(?i:as)\s+\S+)?$`)
	// syntaxDirective is a `# syntax=` parser directive: it names the BuildKit frontend,
	// itself an image that runs during the build.
	syntaxDirective = regexp.MustCompile(`(?i)^#\s*syntax\s*=\s*(\S+)`)
	pinnedFrontend  = regexp.MustCompile(`^(?:docker\.io/)?docker/dockerfile:[\w.-]+@sha256:[0-9a-f]{64}$`)
)

// TestDockerfileBasesPinnedByDigest: every base image of the action's image, and the
// frontend if a syntax directive names one, is pinned by digest, so a tag moved upstream
// cannot change the code that runs with the action's token and secrets.
func TestDockerfileBasesPinnedByDigest(t *testing.T) {
	path := filepath.Join(repoRoot, "Dockerfile")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Parser directives are the leading comment lines.
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			break
		}
		if m := syntaxDirective.FindStringSubmatch(strings.TrimSpace(line)); m != nil && !pinnedFrontend.MatchString(m[1]) {
			t.Errorf("Dockerfile: syntax directive %q: the frontend is not pinned by digest (docker/dockerfile:TAG@sha256:...)", m[1])
		}
	}
	stages := map[string]bool{}
	froms := 0
	for _, in := range parseDockerfile(t, path) {
		if in.Cmd != "FROM" {
			continue
		}
		froms++
		image := strings.Fields(in.Args)
		base := ""
		for _, f := range image {
			if !strings.HasPrefix(f, "--") {
				base = f
				break
			}
		}
		switch {
		case stages[strings.ToLower(base)], base == "scratch":
			// an earlier stage, or no image at all
		case !pinnedFrom.MatchString(in.Args):
			t.Errorf("Dockerfile: FROM %s is not pinned as IMAGE:TAG@sha256:DIGEST", in.Args)
		}
		stages[in.Stage] = true
	}
	if froms == 0 {
		t.Fatal("Dockerfile: no FROM")
	}
}
