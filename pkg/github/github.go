// Package github is the action's side of the pull request, through go-github's REST
// client: it commits files onto a branch with the Git Data API (blobs, a tree on top of
// the branch head's tree, a commit whose parent is the head, a fast-forward ref update:
// never a force-push), and keeps one sticky comment per pull request, found by a hidden
// marker and written by the token's own identity, up to date.
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
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	gh "github.com/google/go-github/v57/github"
)

// MaxCommentLength is GitHub's limit on an issue comment body, in characters.
const MaxCommentLength = 65536

// Client talks to one repository.
type Client struct {
	API   *gh.Client
	Owner string
	Repo  string

	// mu guards identity, the token's own account, looked up once per client.
	mu       sync.Mutex
	identity *Identity
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
			return nil, fmt.Errorf("file %s is not a clean path inside %s", quote(p), strings.Join(prefixes, ", "))
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

// underAny reports whether p is a clean repository path strictly inside one of the
// directories prefixes. The paths come from rendered object names, so a string prefix is
// not enough: "release/dev/../../.github/workflows/x.yml" starts with "release/dev/".
func underAny(p string, prefixes []string) bool {
	if !cleanPath(p) {
		return false
	}
	for _, pre := range prefixes {
		pre = strings.TrimSuffix(pre, "/")
		if cleanPath(pre) && strings.HasPrefix(p, pre+"/") {
			return true
		}
	}
	return false
}

// cleanPath reports whether p is a relative, clean, slash-separated path of printable
// characters: what path.Clean leaves unchanged, with no empty, "." or ".." element, no
// backslash (a separator on Windows checkouts), no ".git" element and no control or
// format character.
func cleanPath(p string) bool {
	if p == "" || path.IsAbs(p) || path.Clean(p) != p || !utf8.ValidString(p) {
		return false
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." || strings.EqualFold(seg, ".git") {
			return false
		}
	}
	for _, r := range p {
		if r == '\\' || !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// quote is a path or name for an error message: quoted, escaped, bounded.
func quote(s string) string {
	const max = 200
	if len(s) > max {
		s = s[:max] + "…"
	}
	return strconv.Quote(s)
}

// CommentResult says what UpsertComment did.
type CommentResult struct {
	ID      int64
	URL     string
	Created bool
	Updated bool
	// Foreign lists the comments that hold the marker but were written by someone else
	// than the token's identity: never edited, reported so the caller can log them.
	Foreign []ForeignComment
}

// ForeignComment is a comment holding the marker that the token's identity did not write.
type ForeignComment struct {
	ID     int64
	Author string
	URL    string
}

// Identity is the account a token acts as: "github-actions[bot]" (a Bot) for a workflow's
// GITHUB_TOKEN, the app's "<slug>[bot]" for another installation token, the user for a
// personal access token.
type Identity struct {
	Login string
	// Bot is true for an app's installation token (the login ends in "[bot]").
	Bot bool
}

// Wrote reports whether user, the author of a comment as the REST API gives it, is this
// identity. Logins are unique whatever their case; a bot login ("[bot]" cannot be part of
// a user's login) must also come with the type Bot.
func (id *Identity) Wrote(user *gh.User) bool {
	if id == nil || id.Login == "" || user == nil || !strings.EqualFold(user.GetLogin(), id.Login) {
		return false
	}
	return (user.GetType() == "Bot") == id.Bot
}

// graphQLURL is the GraphQL endpoint next to the REST one: https://api.github.com/graphql
// for https://api.github.com/, https://HOST/api/graphql for GHES's https://HOST/api/v3/.
func graphQLURL(base *url.URL) string {
	u := *base
	if rest, ok := strings.CutSuffix(u.Path, "/api/v3/"); ok {
		u.Path = rest + "/api/graphql"
	} else {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/graphql"
	}
	u.RawPath = ""
	return u.String()
}

// Identity returns the account the client's token acts as, looked up once. GitHub's
// GraphQL viewer answers for every kind of token (an installation token's viewer is its
// bot, "github-actions[bot]" for GITHUB_TOKEN); REST GET /user, which answers 403 for an
// installation token, is the fallback for a personal access token without GraphQL. When
// neither answers the error says so: the caller must then edit nothing.
func (c *Client) Identity(ctx context.Context) (*Identity, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.identity != nil {
		return c.identity, nil
	}
	login, gqlErr := c.viewerLogin(ctx)
	if gqlErr == nil {
		c.identity = &Identity{Login: login, Bot: strings.HasSuffix(login, "[bot]")}
		return c.identity, nil
	}
	user, _, restErr := c.API.Users.Get(ctx, "")
	if restErr == nil && user.GetLogin() != "" {
		c.identity = &Identity{Login: user.GetLogin(), Bot: user.GetType() == "Bot"}
		return c.identity, nil
	}
	if restErr == nil {
		restErr = errors.New("no login in the answer")
	}
	return nil, fmt.Errorf("find the token's identity (GraphQL viewer: %v; GET /user: %v): refusing to edit comments whose author is unknown", gqlErr, restErr)
}

func (c *Client) viewerLogin(ctx context.Context) (string, error) {
	req, err := c.API.NewRequest(http.MethodPost, graphQLURL(c.API.BaseURL), map[string]string{"query": "query { viewer { login } }"})
	if err != nil {
		return "", err
	}
	var out struct {
		Data struct {
			Viewer struct {
				Login string `json:"login"`
			} `json:"viewer"`
		} `json:"data"`
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if _, err := c.API.Do(ctx, req, &out); err != nil {
		return "", err
	}
	if len(out.Errors) > 0 {
		return "", fmt.Errorf("graphql: %s", quote(out.Errors[0].Message))
	}
	if out.Data.Viewer.Login == "" {
		return "", errors.New("graphql: no viewer login in the answer")
	}
	return out.Data.Viewer.Login, nil
}

// UpsertComment keeps one comment holding marker on issue or pull request number: the
// first comment containing marker that the token's own identity wrote is edited (when its
// body differs), else a comment is created. A comment holding the marker written by anyone
// else is never edited (anyone who can comment could otherwise own "the plan"); it is
// listed in the result's Foreign. body must contain marker and fit MaxCommentLength.
func (c *Client) UpsertComment(ctx context.Context, number int, marker, body string) (*CommentResult, error) {
	if !strings.Contains(body, marker) {
		return nil, errors.New("comment body lacks its marker")
	}
	if n := len([]rune(body)); n > MaxCommentLength {
		return nil, fmt.Errorf("comment is %d characters, GitHub allows %d", n, MaxCommentLength)
	}
	me, err := c.Identity(ctx)
	if err != nil {
		return nil, fmt.Errorf("comment on #%d: %w", number, err)
	}
	var foreign []ForeignComment
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
			if !me.Wrote(cm.GetUser()) {
				foreign = append(foreign, ForeignComment{ID: cm.GetID(), Author: cm.GetUser().GetLogin(), URL: cm.GetHTMLURL()})
				continue
			}
			res := &CommentResult{ID: cm.GetID(), URL: cm.GetHTMLURL(), Foreign: foreign}
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
	return &CommentResult{ID: cm.GetID(), URL: cm.GetHTMLURL(), Created: true, Foreign: foreign}, nil
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
