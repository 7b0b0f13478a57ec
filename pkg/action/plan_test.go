package action

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/internal/testutil"
	"github.com/microservices-manifests/microservices-manifests/pkg/github"
	"github.com/microservices-manifests/microservices-manifests/pkg/github/githubtest"
)

// The validate fixture, hardened so that it passes the policies as well as the schemas.
const (
	fixture  = "../validate/testdata/base"
	hardened = "testdata/hardened"
)

// releaseRepo scripts the GitFlow situation: main holds the fixture; branch release/1.0
// scales prd and adds a ConfigMap. It returns the checkout of release/1.0.
func releaseRepo(t *testing.T) string {
	t.Helper()
	dir := testutil.GitRepo(t, fixture, hardened)
	testutil.Git(t, dir, "checkout", "--quiet", "-b", "release/1.0")
	testutil.WriteFile(t, dir, "app/demo/values-prd.yaml", "replicas: 3\n")
	testutil.WriteFile(t, dir, "app/demo/templates/configmap.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\n  namespace: {{ .Release.Namespace }}\ndata:\n  LOG_LEVEL: info\n")
	testutil.Commit(t, dir, "scale prd, add a ConfigMap")
	return dir
}

func TestPlanOnGitHub(t *testing.T) {
	ctx := context.Background()
	dir := releaseRepo(t)
	fake := githubtest.New(t, "acme", "manifests")
	// The PR branch on GitHub: the sources, and a stale plan file that must go.
	seed := fake.Seed("release/1.0", map[string]string{
		"app/demo/values-prd.yaml":       "replicas: 3\n",
		"release/dev/app/demo/gone.yaml": "stale\n",
	})
	fake.AddPull(githubtest.PullRequest{Number: 12, HeadRef: "release/1.0", BaseRef: "main"})
	client, err := github.New(fake.APIURL(), "t0ken", "acme/manifests")
	if err != nil {
		t.Fatal(err)
	}
	planner := func() *Planner {
		return &Planner{Root: dir, Base: "main", GitHub: client, Branch: "release/1.0", PR: 12}
	}

	first, err := planner().Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !first.Committed || first.Report.Failed() {
		t.Fatalf("first run: committed=%v, %s", first.Committed, first.Report.Summary())
	}
	head := fake.Head("release/1.0")
	if head.SHA != first.Commit || len(head.Parents) != 1 || head.Parents[0] != seed {
		t.Errorf("head %+v: want the plan commit on top of %s", head, seed)
	}
	files := fake.Files(head.SHA)
	for _, want := range []string{
		"release/dev/app/demo/demo_deployment.apps_demo.yaml",
		"release/prd/app/demo/demo_configmap_demo.yaml",
		"release/prd/app/demo/demo_secret_demo-db.yaml",
		"app/demo/values-prd.yaml",
	} {
		if _, ok := files[want]; !ok {
			t.Errorf("commit lacks %s", want)
		}
	}
	if _, ok := files["release/dev/app/demo/gone.yaml"]; ok {
		t.Error("the stale plan file was kept")
	}
	if !strings.Contains(files["release/prd/app/demo/demo_deployment.apps_demo.yaml"], "replicas: 3") {
		t.Errorf("prd deployment:\n%s", files["release/prd/app/demo/demo_deployment.apps_demo.yaml"])
	}
	if !strings.Contains(files["release/prd/app/demo/demo_secret_demo-db.yaml"], "<redacted>") {
		t.Error("the Secret in the plan is not redacted")
	}
	if fake.Forced() != 0 {
		t.Error("the ref update asked for force")
	}
	comments := fake.Comments(12)
	if len(comments) != 1 || !strings.HasPrefix(comments[0].Body, Marker) {
		t.Fatalf("comments = %+v", comments)
	}
	for _, want := range []string{"ConfigMap/demo/demo", "-  replicas: 2\n+  replicas: 3", "Service catalog", "2 added"} {
		if !strings.Contains(comments[0].Body, want) {
			t.Errorf("comment lacks %q:\n%s", want, comments[0].Body)
		}
	}
	fake.Calls()

	// Nothing changed: no commit, the comment stays the one comment.
	second, err := planner().Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if second.Committed || second.Commit != first.Commit {
		t.Errorf("second run committed %s", second.Commit)
	}
	for _, call := range fake.Calls() {
		if strings.Contains(call, "/git/") && !strings.HasPrefix(call, "GET ") {
			t.Errorf("second run wrote git data: %s", call)
		}
	}

	// A change: a new commit on top of the first, the same comment updated.
	testutil.WriteFile(t, dir, "app/demo/values-prd.yaml", "replicas: 4\n")
	third, err := planner().Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	head = fake.Head("release/1.0")
	if !third.Committed || head.Parents[0] != first.Commit {
		t.Errorf("third run: committed=%v, parent %v, want %s", third.Committed, head.Parents, first.Commit)
	}
	comments = fake.Comments(12)
	if len(comments) != 1 || !strings.Contains(comments[0].Body, "+  replicas: 4") {
		t.Errorf("want one updated comment, got %d: %+v", len(comments), comments)
	}
	calls := strings.Join(fake.Calls(), "\n")
	if !strings.Contains(calls, "PATCH /repos/acme/manifests/issues/comments/") || strings.Contains(calls, "POST /repos/acme/manifests/issues/12/comments") {
		t.Errorf("the comment was not updated in place:\n%s", calls)
	}
}

func TestPlanLocal(t *testing.T) {
	ctx := context.Background()
	dir := releaseRepo(t)
	var comment, log bytes.Buffer
	p := &Planner{Root: dir, Base: "main", Comment: &comment, Log: &log}
	res, err := p.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Committed {
		t.Fatalf("no commit:\n%s", log.String())
	}
	if got := testutil.Git(t, dir, "log", "-1", "--format=%s"); got != "plan: render release/dev, release/prd" {
		t.Errorf("commit subject %q", got)
	}
	if got := testutil.Git(t, dir, "status", "--porcelain"); got != "" {
		t.Errorf("working tree not clean after the plan:\n%s", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "release/prd/app/demo/demo_configmap_demo.yaml")); err != nil {
		t.Error(err)
	}
	if !strings.HasPrefix(comment.String(), Marker) || !strings.Contains(comment.String(), "ConfigMap/demo/demo") {
		t.Errorf("comment:\n%s", comment.String())
	}
	again, err := (&Planner{Root: dir, Base: "main"}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again.Committed || again.Commit != res.Commit {
		t.Errorf("second run committed %s", again.Commit)
	}
}

func TestPlanInvalidIsNotCommitted(t *testing.T) {
	dir := releaseRepo(t)
	testutil.WriteFile(t, dir, "app/demo/values-prd.yaml", "replicas: many\n")
	fake := githubtest.New(t, "acme", "manifests")
	seed := fake.Seed("release/1.0", map[string]string{"README.md": "x\n"})
	client, _ := github.New(fake.APIURL(), "t0ken", "acme/manifests")
	res, err := (&Planner{Root: dir, Base: "main", GitHub: client, Branch: "release/1.0", PR: 3}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !res.Report.Failed() || res.Committed || fake.Head("release/1.0").SHA != seed {
		t.Errorf("failed=%v committed=%v", res.Report.Failed(), res.Committed)
	}
	if c := fake.Comments(3); len(c) != 1 || !strings.Contains(c[0].Body, "Validation failed") || !strings.Contains(c[0].Body, "values-prd.yaml") {
		t.Errorf("comment = %+v", c)
	}
}

func TestCommentBodyLimit(t *testing.T) {
	dir := releaseRepo(t)
	res, err := (&Planner{Root: dir, Base: "main", DryRun: true}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{github.MaxCommentLength, 4000, 1500} {
		body := CommentBody(res, limit)
		if len(body) > limit || !strings.HasPrefix(body, Marker) {
			t.Errorf("limit %d: %d characters, marker first: %v", limit, len(body), strings.HasPrefix(body, Marker))
		}
	}
}
