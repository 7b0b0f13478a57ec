// Package github is the action's side of the pull request, through go-github's REST
// client: it commits files onto a branch with the Git Data API (blobs, a tree on top of
// the branch head's tree, a commit whose parent is the head, a fast-forward ref update:
// never a force-push), and keeps one sticky comment per pull request, found by a hidden
// marker, up to date.
package github

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	gh "github.com/google/go-github/v57/github"
)

// MaxCommentLength is GitHub's limit on an issue comment body, in characters.
const MaxCommentLength = 65536

// Client talks to one repository.
type Client struct {
	API   *gh.Client
	Owner string
	Repo  string
}

// New returns a client for "owner/name" at apiURL (GITHUB_API_URL; empty means
// https://api.github.com/) authenticated with token.
func New(apiURL, token, repository string) (*Client, error) {
	owner, name, ok := strings.Cut(repository, "/")
	if !ok || owner == "" || name == "" {
		return nil, fmt.Errorf("repository %q: want owner/name", repository)
	}
	api := gh.NewClient(&http.Client{}).WithAuthToken(token)
	if apiURL != "" {
		u, err := url.Parse(strings.TrimSuffix(apiURL, "/") + "/")
		if err != nil {
			return nil, fmt.Errorf("GitHub API URL %q: %w", apiURL, err)
		}
		api.BaseURL = u
	}
	return &Client{API: api, Owner: owner, Repo: name}, nil
}

// BlobSHA is the git object id of a blob with content, as GitHub computes it.
func BlobSHA(content []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(content))
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}

// CommitResult says what CommitFiles did.
type CommitResult struct {
	// SHA is the new commit, or the unchanged head when nothing changed.
	SHA     string
	Created bool
	// Written and Deleted list the paths the commit adds or changes, and removes.
	Written []string
	Deleted []string
}

// CommitFiles makes the directories prefixes (e.g. "release/dev/") on branch hold exactly
// files (path -> content; every path under one of the prefixes): changed and new files are
// written, files under a prefix that are not in files are deleted, everything else in the
// tree is kept. Without a change no commit is made. The ref update is a fast-forward; if
// the branch moved meanwhile GitHub refuses it and the error says to rerun.
func (c *Client) CommitFiles(ctx context.Context, branch string, prefixes []string, files map[string][]byte, message string) (*CommitResult, error) {
	ref, _, err := c.API.Git.GetRef(ctx, c.Owner, c.Repo, "heads/"+branch)
	if err != nil {
		return nil, fmt.Errorf("get branch %s: %w", branch, err)
	}
	head := ref.GetObject().GetSHA()
	commit, _, err := c.API.Git.GetCommit(ctx, c.Owner, c.Repo, head)
	if err != nil {
		return nil, fmt.Errorf("get commit %s: %w", head, err)
	}
	baseTree := commit.GetTree().GetSHA()
	tree, _, err := c.API.Git.GetTree(ctx, c.Owner, c.Repo, baseTree, true)
	if err != nil {
		return nil, fmt.Errorf("get tree %s: %w", baseTree, err)
	}
	if tree.GetTruncated() {
		return nil, fmt.Errorf("tree of %s is too large to list; cannot compute the files to delete", head)
	}
	existing := map[string]string{}
	for _, e := range tree.Entries {
		if e.GetType() == "blob" {
			existing[e.GetPath()] = e.GetSHA()
		}
	}

	res := &CommitResult{SHA: head}
	paths := make([]string, 0, len(files))
	for p := range files {
		if !underAny(p, prefixes) {
			return nil, fmt.Errorf("file %s is outside %s", p, strings.Join(prefixes, ", "))
		}
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var entries []*gh.TreeEntry
	for _, p := range paths {
		if existing[p] == BlobSHA(files[p]) {
			continue
		}
		blob, _, err := c.API.Git.CreateBlob(ctx, c.Owner, c.Repo, &gh.Blob{
			Content:  gh.String(base64.StdEncoding.EncodeToString(files[p])),
			Encoding: gh.String("base64"),
		})
		if err != nil {
			return nil, fmt.Errorf("create blob %s: %w", p, err)
		}
		entries = append(entries, &gh.TreeEntry{Path: gh.String(p), Mode: gh.String("100644"), Type: gh.String("blob"), SHA: blob.SHA})
		res.Written = append(res.Written, p)
	}
	var gone []string
	for p := range existing {
		if _, keep := files[p]; !keep && underAny(p, prefixes) {
			gone = append(gone, p)
		}
	}
	sort.Strings(gone)
	for _, p := range gone {
		// A nil SHA deletes the path from the base tree.
		entries = append(entries, &gh.TreeEntry{Path: gh.String(p), Mode: gh.String("100644"), Type: gh.String("blob")})
		res.Deleted = append(res.Deleted, p)
	}
	if len(entries) == 0 {
		return res, nil
	}
	newTree, _, err := c.API.Git.CreateTree(ctx, c.Owner, c.Repo, baseTree, entries)
	if err != nil {
		return nil, fmt.Errorf("create tree: %w", err)
	}
	if newTree.GetSHA() == baseTree {
		return &CommitResult{SHA: head}, nil
	}
	created, _, err := c.API.Git.CreateCommit(ctx, c.Owner, c.Repo, &gh.Commit{
		Message: gh.String(message),
		Tree:    &gh.Tree{SHA: newTree.SHA},
		Parents: []*gh.Commit{{SHA: gh.String(head)}},
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("create commit: %w", err)
	}
	_, resp, err := c.API.Git.UpdateRef(ctx, c.Owner, c.Repo, &gh.Reference{
		Ref:    gh.String("refs/heads/" + branch),
		Object: &gh.GitObject{SHA: created.SHA},
	}, false)
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusUnprocessableEntity {
			return nil, fmt.Errorf("update branch %s: it moved since %s (not a fast-forward); rerun the plan: %w", branch, head[:min(7, len(head))], err)
		}
		return nil, fmt.Errorf("update branch %s: %w", branch, err)
	}
	res.SHA, res.Created = created.GetSHA(), true
	return res, nil
}

func underAny(p string, prefixes []string) bool {
	for _, pre := range prefixes {
		if strings.HasPrefix(p, strings.TrimSuffix(pre, "/")+"/") {
			return true
		}
	}
	return false
}

// CommentResult says what UpsertComment did.
type CommentResult struct {
	ID      int64
	URL     string
	Created bool
	Updated bool
}

// UpsertComment keeps one comment holding marker on issue or pull request number: the
// first comment containing marker is edited (when its body differs), else a comment is
// created. body must contain marker and fit MaxCommentLength.
func (c *Client) UpsertComment(ctx context.Context, number int, marker, body string) (*CommentResult, error) {
	if !strings.Contains(body, marker) {
		return nil, errors.New("comment body lacks its marker")
	}
	if n := len([]rune(body)); n > MaxCommentLength {
		return nil, fmt.Errorf("comment is %d characters, GitHub allows %d", n, MaxCommentLength)
	}
	opts := &gh.IssueListCommentsOptions{ListOptions: gh.ListOptions{PerPage: 100}}
	for {
		comments, resp, err := c.API.Issues.ListComments(ctx, c.Owner, c.Repo, number, opts)
		if err != nil {
			return nil, fmt.Errorf("list comments of #%d: %w", number, err)
		}
		for _, cm := range comments {
			if !strings.Contains(cm.GetBody(), marker) {
				continue
			}
			res := &CommentResult{ID: cm.GetID(), URL: cm.GetHTMLURL()}
			if cm.GetBody() == body {
				return res, nil
			}
			if _, _, err := c.API.Issues.EditComment(ctx, c.Owner, c.Repo, cm.GetID(), &gh.IssueComment{Body: gh.String(body)}); err != nil {
				return nil, fmt.Errorf("update comment %d: %w", cm.GetID(), err)
			}
			res.Updated = true
			return res, nil
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	cm, _, err := c.API.Issues.CreateComment(ctx, c.Owner, c.Repo, number, &gh.IssueComment{Body: gh.String(body)})
	if err != nil {
		return nil, fmt.Errorf("comment on #%d: %w", number, err)
	}
	return &CommentResult{ID: cm.GetID(), URL: cm.GetHTMLURL(), Created: true}, nil
}

// PullRequest is what the plan needs to know of a pull request.
type PullRequest struct {
	Number  int
	HeadRef string
	BaseRef string
	BaseSHA string
	URL     string
}

func pull(p *gh.PullRequest) *PullRequest {
	return &PullRequest{Number: p.GetNumber(), HeadRef: p.GetHead().GetRef(), BaseRef: p.GetBase().GetRef(),
		BaseSHA: p.GetBase().GetSHA(), URL: p.GetHTMLURL()}
}

// PullRequest reads pull request number.
func (c *Client) PullRequest(ctx context.Context, number int) (*PullRequest, error) {
	p, _, err := c.API.PullRequests.Get(ctx, c.Owner, c.Repo, number)
	if err != nil {
		return nil, fmt.Errorf("get pull request #%d: %w", number, err)
	}
	return pull(p), nil
}

// PullRequestForBranch finds the open pull request from branch (of this repository); nil
// when there is none.
func (c *Client) PullRequestForBranch(ctx context.Context, branch string) (*PullRequest, error) {
	ps, _, err := c.API.PullRequests.List(ctx, c.Owner, c.Repo, &gh.PullRequestListOptions{
		State: "open", Head: c.Owner + ":" + branch, ListOptions: gh.ListOptions{PerPage: 10},
	})
	if err != nil {
		return nil, fmt.Errorf("find pull request of %s: %w", branch, err)
	}
	if len(ps) == 0 {
		return nil, nil
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].GetNumber() < ps[j].GetNumber() })
	return pull(ps[0]), nil
}

// ParseNumber reads a pull request number from "refs/pull/N/merge" or "N".
func ParseNumber(s string) (int, bool) {
	s = strings.TrimPrefix(s, "refs/pull/")
	s, _, _ = strings.Cut(s, "/")
	n, err := strconv.Atoi(s)
	return n, err == nil && n > 0
}
