package action

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// releaseWorkflow is the workflow that releases the action as a prebuilt, signed image.
const releaseWorkflow = "release-action.yml"

// TestWorkflowReleaseActionImage: tags vX.Y.Z build the action's image once with provenance
// (mode=max) and an SBOM, push it, sign it by digest with cosign keyless, and only the job
// that pushes the image may write packages and mint an OIDC token, only the job that moves
// the tag may write contents.
func TestWorkflowReleaseActionImage(t *testing.T) {
	wf := loadWorkflow(t, releaseWorkflow)
	push, _ := wf.On["push"].(map[string]any)
	tags, _ := push["tags"].([]any)
	if len(tags) != 1 || tags[0] != "v*.*.*" {
		t.Errorf("%s: on.push.tags = %v, want [v*.*.*]", releaseWorkflow, tags)
	}
	var built, installed, signed, pinned, tagged bool
	buildID := ""
	for id, job := range wf.Jobs {
		perms, _ := job["permissions"].(map[string]any)
		for _, st := range wfSteps(job) {
			uses, _ := st["uses"].(string)
			with, _ := st["with"].(map[string]any)
			run, _ := st["run"].(string)
			switch {
			case strings.HasPrefix(uses, "docker/build-push-action@"):
				built = true
				buildID, _ = st["id"].(string)
				if with["provenance"] != "mode=max" || with["sbom"] != true || with["push"] != true {
					t.Errorf("%s: job %s builds with provenance=%v sbom=%v push=%v, want mode=max, true, true", releaseWorkflow, id, with["provenance"], with["sbom"], with["push"])
				}
				if with["context"] != "." {
					t.Errorf("%s: job %s builds context %v, want . (the checked-out tag)", releaseWorkflow, id, with["context"])
				}
				if perms["packages"] != "write" || perms["id-token"] != "write" || perms["contents"] != "read" {
					t.Errorf("%s: job %s pushes and signs with permissions %v, want contents: read, packages: write, id-token: write", releaseWorkflow, id, perms)
				}
			case strings.HasPrefix(uses, "sigstore/cosign-installer@"):
				installed = true
			case regexp.MustCompile(`cosign sign --yes "?\$\{?IMAGE\}?@\$\{?DIGEST\}?"?`).MatchString(run):
				signed = true
				env, _ := st["env"].(map[string]any)
				if buildID == "" || env["DIGEST"] != "${{ steps."+buildID+".outputs.digest }}" {
					t.Errorf("%s: job %s signs DIGEST=%v, want the build step's digest output", releaseWorkflow, id, env["DIGEST"])
				}
			case st["id"] == "pin-image":
				pinned = true
				if perms["contents"] != "write" || perms["packages"] != nil || perms["id-token"] != nil {
					t.Errorf("%s: job %s moves the tag with permissions %v, want contents: write only", releaseWorkflow, id, perms)
				}
			case strings.Contains(run, "git push --force origin \"refs/tags/${TAG}\""):
				tagged = true
			}
		}
	}
	for what, ok := range map[string]bool{
		"builds with docker/build-push-action": built, "installs cosign": installed,
		"signs IMAGE@DIGEST with cosign sign --yes": signed,
		"rewrites action.yml (step id pin-image)":   pinned, "moves the tag": tagged,
	} {
		if !ok {
			t.Errorf("%s: no step %s", releaseWorkflow, what)
		}
	}
}

// TestWorkflowReleaseActionPinsImage runs the step that rewrites action.yml for the release
// commit: runs.image becomes docker://IMAGE@sha256:DIGEST (the runner pulls the signed image,
// no Go build), nothing else changes, and anything but a ghcr.io image and a sha256 digest
// is refused with action.yml untouched.
func TestWorkflowReleaseActionPinsImage(t *testing.T) {
	bash := lookBash(t)
	step := stepByID(t, loadWorkflow(t, releaseWorkflow), "release", "pin-image")
	original, err := os.ReadFile(filepath.Join(repoRoot, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	image := "ghcr.io/" + upstreamRepo
	digest := "sha256:" + strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name, image, digest string
		ok                  bool
	}{
		{"ghcr.io image, sha256 digest", image, digest, true},
		{"a tag instead of a digest", image, "latest", false},
		{"a short digest", image, "sha256:abc", false},
		{"a digest with a newline", image, digest + "\n  entrypoint: x", false},
		{"another registry", "docker.io/attacker/action", digest, false},
		{"a sed delimiter in the image", image + "|x", digest, false},
	} {
		dir := t.TempDir()
		file := filepath.Join(dir, "action.yml")
		if err := os.WriteFile(file, original, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := runWorkflowStep(t, bash, step, dir, map[string]string{"IMAGE": tc.image, "DIGEST": tc.digest})
		got, rerr := os.ReadFile(file)
		if rerr != nil {
			t.Fatal(rerr)
		}
		if !tc.ok {
			if err == nil || string(got) != string(original) {
				t.Errorf("%s: accepted (err %v) or action.yml changed", tc.name, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v\n%s", tc.name, err, boundOutput(out))
		}
		var meta struct {
			Runs struct {
				Using string `json:"using"`
				Image string `json:"image"`
			} `json:"runs"`
		}
		if err := yaml.Unmarshal(got, &meta); err != nil {
			t.Fatalf("%s: the rewritten action.yml: %v", tc.name, err)
		}
		if want := "docker://" + image + "@" + digest; meta.Runs.Using != "docker" || meta.Runs.Image != want {
			t.Errorf("%s: runs = %+v, want docker / %s", tc.name, meta.Runs, want)
		}
		if strings.Replace(string(got), "docker://"+image+"@"+digest, "Dockerfile", 1) != string(original) {
			t.Errorf("%s: the rewrite changed more than runs.image", tc.name)
		}
	}
}
