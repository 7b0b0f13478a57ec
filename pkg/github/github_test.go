package github

import (
	"context"
	"fmt"
	"net/url"
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

// TestCommitFilesRefusesUncleanPaths: plan paths come from rendered object names; one that
// leaves release/<env>/ once cleaned (or that GitHub or a checkout could read otherwise)
// is refused before anything is written.
func TestCommitFilesRefusesUncleanPaths(t *testing.T) {
	ctx := context.Background()
	fake := githubtest.New(t, "acme", "manifests")
	fake.Seed("release/1.0", map[string]string{"README.md": "readme\n"})
	c := client(t, fake)
	fake.Calls()
	_, err := c.CommitFiles(ctx, "release/1.0", []string{"release/dev/"}, map[string][]byte{
		"release/dev/app/ok.yaml":                     []byte("ok\n"),
		"release/dev/../../.github/workflows/pwn.yml": []byte("on: push\n"),
	}, "plan")
	if err == nil || !strings.Contains(err.Error(), `"release/dev/../../.github/workflows/pwn.yml"`) {
		t.Fatalf("err = %v, want the traversing path refused", err)
	}
	for _, call := range fake.Calls() {
		if !strings.HasPrefix(call, "GET ") {
			t.Errorf("wrote before refusing: %s", call)
		}
	}
}

func TestUnderAny(t *testing.T) {
	prefixes := []string{"release/dev/", "release/prd"}
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"release/dev/app/demo/demo_configmap_demo.yaml", true},
		{"release/prd/x.yaml", true},
		{"release/dev/../../.github/workflows/x.yml", false},
		{"release/dev/../prd/x.yaml", false},
		{"release/dev/./x.yaml", false},
		{"release/dev//x.yaml", false},
		{"release/dev/", false},
		{"release/dev", false},
		{"release/devx/y.yaml", false},
		{"/release/dev/x.yaml", false},
		{"release/dev/x/..", false},
		{"release/dev/.git/config", false},
		{"release/dev/a/.GIT/hooks/x", false},
		{`release/dev/..\..\x`, false},
		{"release/dev/x\x00.yaml", false},
		{"release/dev/x\n.yaml", false},
		{"release/dev/\u202ex.yaml", false},
		{"release/dev/\xff.yaml", false},
		{"", false},
		{"release/staging/x.yaml", false},
	} {
		if got := underAny(tc.path, prefixes); got != tc.want {
			t.Errorf("underAny(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
	if underAny("release/x.yaml", []string{"release/../"}) || underAny("x.yaml", []string{""}) {
		t.Error("an unclean or empty prefix was accepted")
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

// TestUpsertCommentOnlyEditsItsOwn: a comment holding the marker that someone else wrote
// (here before the plan's first run) is never edited; the bot's own comment is created and
// then edited in place.
func TestUpsertCommentOnlyEditsItsOwn(t *testing.T) {
	ctx := context.Background()
	const marker = "<!-- platform-plan -->"
	for _, tc := range []struct {
		name     string
		identity githubtest.Identity
		// others are comments holding the marker written before the first run.
		others []githubtest.Comment
	}{
		{"attacker comments first", githubtest.ActionsBot, []githubtest.Comment{{Author: "mallory", AuthorType: "User", Body: marker + "\nLGTM, merge it"}}},
		{"attacker named like the bot", githubtest.ActionsBot, []githubtest.Comment{{Author: "github-actions", AuthorType: "User", Body: marker}}},
		{"user claims the bot's login", githubtest.ActionsBot, []githubtest.Comment{{Author: "github-actions[bot]", AuthorType: "User", Body: marker}}},
		{"another app's bot", githubtest.ActionsBot, []githubtest.Comment{{Author: "evil-app[bot]", AuthorType: "Bot", Body: marker}}},
		{"personal access token: REST identity", githubtest.Identity{Login: "release-bot", Type: "User", REST: true},
			[]githubtest.Comment{{Author: "mallory", AuthorType: "User", Body: marker}}},
		{"personal access token: its bot namesake", githubtest.Identity{Login: "release-bot", Type: "User", GraphQL: true},
			[]githubtest.Comment{{Author: "release-bot", AuthorType: "Bot", Body: marker}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := githubtest.New(t, "acme", "manifests")
			fake.SetIdentity(tc.identity)
			foreign := map[int64]string{}
			for _, o := range tc.others {
				foreign[fake.AddComment(7, o.Author, o.AuthorType, o.Body)] = o.Body
			}
			c := client(t, fake)
			first, err := c.UpsertComment(ctx, 7, marker, marker+"\none")
			if err != nil || !first.Created || first.Updated {
				t.Fatalf("first = %+v, %v: want a new comment", first, err)
			}
			if len(first.Foreign) != len(tc.others) {
				t.Errorf("foreign = %+v, want the %d comments of others", first.Foreign, len(tc.others))
			}
			second, err := c.UpsertComment(ctx, 7, marker, marker+"\ntwo")
			if err != nil || !second.Updated || second.ID != first.ID {
				t.Fatalf("second = %+v, %v: want the bot's comment %d edited", second, err, first.ID)
			}
			for _, call := range fake.Calls() {
				for id := range foreign {
					if call == fmt.Sprintf("PATCH /repos/acme/manifests/issues/comments/%d", id) {
						t.Errorf("edited the comment %d of another author", id)
					}
				}
			}
			for _, cm := range fake.Comments(7) {
				if body, ok := foreign[cm.ID]; ok && cm.Body != body {
					t.Errorf("comment %d of %s changed to %q", cm.ID, cm.Author, cm.Body)
				}
				if cm.ID == first.ID && (cm.Author != tc.identity.Login || cm.Body != marker+"\ntwo") {
					t.Errorf("own comment = %+v", cm)
				}
			}
		})
	}
}

// TestUpsertCommentUnknownIdentity: without an identity no comment can be told to be the
// bot's own: the error says so and nothing is edited or created.
func TestUpsertCommentUnknownIdentity(t *testing.T) {
	const marker = "<!-- platform-plan -->"
	fake := githubtest.New(t, "acme", "manifests")
	fake.SetIdentity(githubtest.Identity{Login: "github-actions[bot]", Type: "Bot"}) // neither GraphQL nor /user answers
	own := fake.AddComment(7, "github-actions[bot]", "Bot", marker+"\nold")
	c := client(t, fake)
	_, err := c.UpsertComment(context.Background(), 7, marker, marker+"\nnew")
	if err == nil || !strings.Contains(err.Error(), "identity") {
		t.Fatalf("err = %v, want an identity error", err)
	}
	for _, call := range fake.Calls() {
		if strings.HasPrefix(call, "PATCH ") || strings.HasPrefix(call, "POST /repos/") {
			t.Errorf("wrote without an identity: %s", call)
		}
	}
	if cms := fake.Comments(7); len(cms) != 1 || cms[0].ID != own || cms[0].Body != marker+"\nold" {
		t.Errorf("comments = %+v", cms)
	}
}

// TestIdentityCached: the identity is looked up once per client.
func TestIdentityCached(t *testing.T) {
	fake := githubtest.New(t, "acme", "manifests")
	c := client(t, fake)
	for i := 0; i < 3; i++ {
		id, err := c.Identity(context.Background())
		if err != nil || id.Login != "github-actions[bot]" || !id.Bot {
			t.Fatalf("identity = %+v, %v", id, err)
		}
	}
	if calls := fake.Calls(); len(calls) != 1 || calls[0] != "POST /graphql" {
		t.Errorf("calls = %v, want one GraphQL query", calls)
	}
}

func TestGraphQLURL(t *testing.T) {
	for _, tc := range []struct{ api, want string }{
		{"https://api.github.com/", "https://api.github.com/graphql"},
		{"https://ghe.example.com/api/v3/", "https://ghe.example.com/api/graphql"},
		{"http://127.0.0.1:8080/", "http://127.0.0.1:8080/graphql"},
	} {
		u, err := url.Parse(tc.api)
		if err != nil {
			t.Fatal(err)
		}
		if got := graphQLURL(u); got != tc.want {
			t.Errorf("graphQLURL(%s) = %s, want %s", tc.api, got, tc.want)
		}
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
