package github

import (
	"context"
	"strings"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/pkg/github/githubtest"
)

func client(t *testing.T, fake *githubtest.Server) *Client {
	t.Helper()
	c, err := New(fake.APIURL(), "test-token", "acme/manifests")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCommitFiles(t *testing.T) {
	ctx := context.Background()
	fake := githubtest.New(t, "acme", "manifests")
	seed := fake.Seed("release/1.0", map[string]string{
		"README.md":                   "readme\n",
		"release/dev/app/a/old.yaml":  "old\n",
		"release/dev/app/a/same.yaml": "same\n",
	})
	c := client(t, fake)
	files := map[string][]byte{
		"release/dev/app/a/same.yaml": []byte("same\n"),
		"release/dev/app/a/new.yaml":  []byte("new\n"),
	}
	res, err := c.CommitFiles(ctx, "release/1.0", []string{"release/dev/"}, files, "plan")
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || strings.Join(res.Written, ",") != "release/dev/app/a/new.yaml" || strings.Join(res.Deleted, ",") != "release/dev/app/a/old.yaml" {
		t.Fatalf("result = %+v", res)
	}
	head := fake.Head("release/1.0")
	if head.SHA != res.SHA || len(head.Parents) != 1 || head.Parents[0] != seed || head.Message != "plan" {
		t.Errorf("head = %+v, want a commit on %s", head, seed)
	}
	got := fake.Files(head.SHA)
	want := map[string]string{"README.md": "readme\n", "release/dev/app/a/same.yaml": "same\n", "release/dev/app/a/new.yaml": "new\n"}
	if len(got) != len(want) {
		t.Errorf("files = %v", got)
	}
	for p, c := range want {
		if got[p] != c {
			t.Errorf("%s = %q, want %q", p, got[p], c)
		}
	}
	calls := strings.Join(fake.Calls(), "\n")
	for _, call := range []string{"GET /repos/acme/manifests/git/ref/heads/release/1.0", "POST /repos/acme/manifests/git/blobs",
		"POST /repos/acme/manifests/git/trees", "POST /repos/acme/manifests/git/commits", "PATCH /repos/acme/manifests/git/refs/heads/release/1.0"} {
		if !strings.Contains(calls, call) {
			t.Errorf("no call %s in:\n%s", call, calls)
		}
	}
	if strings.Count(calls, "POST /repos/acme/manifests/git/blobs") != 1 {
		t.Errorf("unchanged files were uploaded again:\n%s", calls)
	}
	if fake.Forced() != 0 {
		t.Error("a ref update asked for force")
	}

	// The same files again: no blob, tree, commit or ref update.
	again, err := c.CommitFiles(ctx, "release/1.0", []string{"release/dev/"}, files, "plan")
	if err != nil {
		t.Fatal(err)
	}
	if again.Created || again.SHA != res.SHA {
		t.Errorf("second run = %+v, want no commit", again)
	}
	for _, call := range fake.Calls() {
		if !strings.HasPrefix(call, "GET ") {
			t.Errorf("second run wrote: %s", call)
		}
	}

	if _, err := c.CommitFiles(ctx, "release/1.0", []string{"release/dev/"}, map[string][]byte{"app/x": nil}, "plan"); err == nil {
		t.Error("a file outside the prefixes was accepted")
	}
}

func TestUpsertComment(t *testing.T) {
	ctx := context.Background()
	fake := githubtest.New(t, "acme", "manifests")
	c := client(t, fake)
	const marker = "<!-- platform-plan -->"
	first, err := c.UpsertComment(ctx, 7, marker, marker+"\none")
	if err != nil || !first.Created {
		t.Fatalf("first = %+v, %v", first, err)
	}
	second, err := c.UpsertComment(ctx, 7, marker, marker+"\ntwo")
	if err != nil || second.Created || !second.Updated || second.ID != first.ID {
		t.Fatalf("second = %+v, %v", second, err)
	}
	third, err := c.UpsertComment(ctx, 7, marker, marker+"\ntwo")
	if err != nil || third.Created || third.Updated {
		t.Fatalf("third = %+v, %v", third, err)
	}
	comments := fake.Comments(7)
	if len(comments) != 1 || comments[0].Body != marker+"\ntwo" {
		t.Errorf("comments = %+v, want one holding the second body", comments)
	}
	if _, err := c.UpsertComment(ctx, 7, marker, "no marker"); err == nil {
		t.Error("a body without the marker was accepted")
	}
	if _, err := c.UpsertComment(ctx, 7, marker, marker+strings.Repeat("x", MaxCommentLength)); err == nil {
		t.Error("a body over the limit was accepted")
	}
}

func TestPullRequestForBranch(t *testing.T) {
	fake := githubtest.New(t, "acme", "manifests")
	fake.AddPull(githubtest.PullRequest{Number: 3, HeadRef: "release/1.0", BaseRef: "main", BaseSHA: "abc"})
	c := client(t, fake)
	pr, err := c.PullRequestForBranch(context.Background(), "release/1.0")
	if err != nil || pr == nil || pr.Number != 3 || pr.BaseRef != "main" {
		t.Fatalf("pr = %+v, %v", pr, err)
	}
	if pr, err := c.PullRequestForBranch(context.Background(), "release/2.0"); err != nil || pr != nil {
		t.Errorf("no pull request: got %+v, %v", pr, err)
	}
}

func TestBlobSHA(t *testing.T) {
	// git hash-object of "hello\n"
	if got := BlobSHA([]byte("hello\n")); got != "ce013625030ba8dba906f756967f9e9ca394464a" {
		t.Errorf("BlobSHA = %s", got)
	}
}
