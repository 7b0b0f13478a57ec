// Package githubtest is a fake GitHub REST API on 127.0.0.1 for tests: the Git Data
// endpoints (refs, commits, trees, blobs), issue comments and pull requests that
// package github calls, the token's identity (GraphQL viewer, REST /user), with an
// in-memory repository and a log of every call.
package githubtest

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Commit is a commit of the fake repository; its tree is flat (path -> blob SHA).
type Commit struct {
	SHA     string
	Message string
	Tree    string
	Parents []string
}

// Comment is an issue comment.
type Comment struct {
	ID     int64
	Issue  int
	Body   string
	Author string
	// AuthorType is the author's account type: "User" or "Bot".
	AuthorType string
}

// Identity is who the fake's token is and which endpoints say so.
type Identity struct {
	Login string
	Type  string // "Bot" or "User"
	// GraphQL answers POST /graphql's viewer query; otherwise it fails (502).
	GraphQL bool
	// REST answers GET /user; otherwise it is refused with 403, as GitHub refuses an
	// installation token (GITHUB_TOKEN).
	REST bool
}

// ActionsBot is a workflow's GITHUB_TOKEN: github-actions[bot], known to GraphQL only.
var ActionsBot = Identity{Login: "github-actions[bot]", Type: "Bot", GraphQL: true}

// PullRequest is a pull request of the fake repository.
type PullRequest struct {
	Number           int
	HeadRef, BaseRef string
	BaseSHA          string
}

// Server is the fake API. Its fields are guarded by mu; read them through the methods.
type Server struct {
	*httptest.Server
	Owner, Repo string

	mu       sync.Mutex
	blobs    map[string][]byte
	trees    map[string]map[string]string
	commits  map[string]*Commit
	refs     map[string]string
	comments []*Comment
	pulls    map[int]*PullRequest
	calls    []string
	nextID   int64
	identity Identity
	// Forced records ref updates that asked for force.
	forced int
}

// New starts a fake for owner/repo on 127.0.0.1, stopped when the test ends.
func New(t testing.TB, owner, repo string) *Server {
	t.Helper()
	s := &Server{Owner: owner, Repo: repo, blobs: map[string][]byte{}, trees: map[string]map[string]string{},
		commits: map[string]*Commit{}, refs: map[string]string{}, pulls: map[int]*PullRequest{}, nextID: 1000,
		identity: ActionsBot}
	s.Server = httptest.NewUnstartedServer(s.mux())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Server.Listener = l
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// APIURL is the API base URL (GITHUB_API_URL).
func (s *Server) APIURL() string { return s.Server.URL + "/" }

func blobSHA(content []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(content))
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}

func (s *Server) treeSHA(tree map[string]string) string {
	paths := make([]string, 0, len(tree))
	for p := range tree {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	h := sha1.New()
	for _, p := range paths {
		fmt.Fprintf(h, "%s %s\n", p, tree[p])
	}
	sha := hex.EncodeToString(h.Sum(nil))
	s.trees[sha] = tree
	return sha
}

func (s *Server) commit(msg, tree string, parents []string) string {
	h := sha1.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n%d", msg, tree, strings.Join(parents, ","), len(s.commits))
	sha := hex.EncodeToString(h.Sum(nil))
	s.commits[sha] = &Commit{SHA: sha, Message: msg, Tree: tree, Parents: parents}
	return sha
}

// Seed commits files onto branch (creating it) outside the API and returns the commit.
func (s *Server) Seed(branch string, files map[string]string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	tree := map[string]string{}
	var parents []string
	if head, ok := s.refs[branch]; ok {
		for p, b := range s.trees[s.commits[head].Tree] {
			tree[p] = b
		}
		parents = []string{head}
	}
	for p, c := range files {
		sha := blobSHA([]byte(c))
		s.blobs[sha] = []byte(c)
		tree[p] = sha
	}
	sha := s.commit("seed", s.treeSHA(tree), parents)
	s.refs[branch] = sha
	return sha
}

// AddPull registers a pull request.
func (s *Server) AddPull(p PullRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pulls[p.Number] = &p
}

// SetIdentity sets who the token is (ActionsBot by default); comments created through the
// API are written by it.
func (s *Server) SetIdentity(id Identity) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.identity = id
}

// AddComment adds a comment on issue n written by author (authorType "User" or "Bot")
// outside the API, and returns its id.
func (s *Server) AddComment(n int, author, authorType, body string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	s.comments = append(s.comments, &Comment{ID: s.nextID, Issue: n, Body: body, Author: author, AuthorType: authorType})
	return s.nextID
}

// Head returns the commit at the tip of branch.
func (s *Server) Head(branch string) *Commit {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := *s.commits[s.refs[branch]]
	return &c
}

// Files returns the content of every file of commit sha.
func (s *Server) Files(sha string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for p, b := range s.trees[s.commits[sha].Tree] {
		out[p] = string(s.blobs[b])
	}
	return out
}

// Comments returns the comments of issue n.
func (s *Server) Comments(n int) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Comment
	for _, c := range s.comments {
		if c.Issue == n {
			out = append(out, *c)
		}
	}
	return out
}

// Calls returns "METHOD /path" of every request so far, and resets the log.
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.calls
	s.calls = nil
	return out
}

// Forced counts ref updates that asked for a force-push.
func (s *Server) Forced() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.forced
}

func (s *Server) mux() http.Handler {
	m := http.NewServeMux()
	repo := "/repos/{owner}/{repo}"
	m.HandleFunc("GET "+repo+"/git/ref/heads/{branch...}", func(w http.ResponseWriter, r *http.Request) {
		sha, ok := s.refs[r.PathValue("branch")]
		if !ok {
			fail(w, http.StatusNotFound, "Not Found")
			return
		}
		reply(w, http.StatusOK, ref(r.PathValue("branch"), sha))
	})
	m.HandleFunc("PATCH "+repo+"/git/refs/heads/{branch...}", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			SHA   string `json:"sha"`
			Force *bool  `json:"force"`
		}
		if !decode(w, r, &in) {
			return
		}
		branch := r.PathValue("branch")
		c, ok := s.commits[in.SHA]
		if !ok {
			fail(w, http.StatusUnprocessableEntity, "Object does not exist")
			return
		}
		if in.Force != nil && *in.Force {
			s.forced++
		} else if head := s.refs[branch]; len(c.Parents) == 0 || c.Parents[0] != head {
			fail(w, http.StatusUnprocessableEntity, "Update is not a fast forward")
			return
		}
		s.refs[branch] = in.SHA
		reply(w, http.StatusOK, ref(branch, in.SHA))
	})
	m.HandleFunc("GET "+repo+"/git/commits/{sha}", func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.commits[r.PathValue("sha")]
		if !ok {
			fail(w, http.StatusNotFound, "Not Found")
			return
		}
		reply(w, http.StatusOK, commitJSON(c))
	})
	m.HandleFunc("POST "+repo+"/git/commits", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Message string   `json:"message"`
			Tree    string   `json:"tree"`
			Parents []string `json:"parents"`
		}
		if !decode(w, r, &in) {
			return
		}
		if _, ok := s.trees[in.Tree]; !ok {
			fail(w, http.StatusUnprocessableEntity, "Tree not found")
			return
		}
		sha := s.commit(in.Message, in.Tree, in.Parents)
		reply(w, http.StatusCreated, commitJSON(s.commits[sha]))
	})
	m.HandleFunc("GET "+repo+"/git/trees/{sha}", func(w http.ResponseWriter, r *http.Request) {
		tree, ok := s.trees[r.PathValue("sha")]
		if !ok {
			fail(w, http.StatusNotFound, "Not Found")
			return
		}
		if r.URL.Query().Get("recursive") == "" {
			fail(w, http.StatusNotImplemented, "the fake serves recursive trees only")
			return
		}
		reply(w, http.StatusOK, treeJSON(r.PathValue("sha"), tree))
	})
	m.HandleFunc("POST "+repo+"/git/trees", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			BaseTree string `json:"base_tree"`
			Tree     []struct {
				Path string  `json:"path"`
				Mode string  `json:"mode"`
				Type string  `json:"type"`
				SHA  *string `json:"sha"`
			} `json:"tree"`
		}
		if !decode(w, r, &in) {
			return
		}
		tree := map[string]string{}
		if in.BaseTree != "" {
			base, ok := s.trees[in.BaseTree]
			if !ok {
				fail(w, http.StatusUnprocessableEntity, "base_tree not found")
				return
			}
			for p, b := range base {
				tree[p] = b
			}
		}
		for _, e := range in.Tree {
			if e.SHA == nil {
				delete(tree, e.Path)
				continue
			}
			if _, ok := s.blobs[*e.SHA]; !ok {
				fail(w, http.StatusUnprocessableEntity, "blob not found: "+*e.SHA)
				return
			}
			tree[e.Path] = *e.SHA
		}
		sha := s.treeSHA(tree)
		reply(w, http.StatusCreated, treeJSON(sha, tree))
	})
	m.HandleFunc("POST "+repo+"/git/blobs", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Content, Encoding string }
		if !decode(w, r, &in) {
			return
		}
		data := []byte(in.Content)
		if in.Encoding == "base64" {
			var err error
			if data, err = base64.StdEncoding.DecodeString(in.Content); err != nil {
				fail(w, http.StatusBadRequest, err.Error())
				return
			}
		}
		sha := blobSHA(data)
		s.blobs[sha] = data
		reply(w, http.StatusCreated, map[string]any{"sha": sha})
	})
	m.HandleFunc("GET "+repo+"/issues/{n}/comments", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		out := []any{}
		for _, c := range s.comments {
			if c.Issue == n {
				out = append(out, s.commentJSON(c))
			}
		}
		reply(w, http.StatusOK, out)
	})
	m.HandleFunc("POST "+repo+"/issues/{n}/comments", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Body string }
		if !decode(w, r, &in) {
			return
		}
		n, _ := strconv.Atoi(r.PathValue("n"))
		s.nextID++
		c := &Comment{ID: s.nextID, Issue: n, Body: in.Body, Author: s.identity.Login, AuthorType: s.identity.Type}
		s.comments = append(s.comments, c)
		reply(w, http.StatusCreated, s.commentJSON(c))
	})
	// GitHub lets a token with write access edit anyone's comment; so does the fake: tests
	// read the call log to see which comment was edited.
	m.HandleFunc("PATCH "+repo+"/issues/comments/{id}", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Body string }
		if !decode(w, r, &in) {
			return
		}
		id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
		for _, c := range s.comments {
			if c.ID == id {
				c.Body = in.Body
				reply(w, http.StatusOK, s.commentJSON(c))
				return
			}
		}
		fail(w, http.StatusNotFound, "Not Found")
	})
	m.HandleFunc("GET "+repo+"/pulls/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		p, ok := s.pulls[n]
		if !ok {
			fail(w, http.StatusNotFound, "Not Found")
			return
		}
		reply(w, http.StatusOK, s.pullJSON(p))
	})
	m.HandleFunc("GET "+repo+"/pulls", func(w http.ResponseWriter, r *http.Request) {
		out := []any{}
		head := r.URL.Query().Get("head")
		for _, p := range s.pulls {
			if head == "" || head == s.Owner+":"+p.HeadRef {
				out = append(out, s.pullJSON(p))
			}
		}
		reply(w, http.StatusOK, out)
	})
	m.HandleFunc("POST /graphql", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Query string `json:"query"`
		}
		if !decode(w, r, &in) {
			return
		}
		if !s.identity.GraphQL {
			fail(w, http.StatusBadGateway, "Bad Gateway")
			return
		}
		if !strings.Contains(in.Query, "viewer") {
			reply(w, http.StatusOK, map[string]any{"errors": []any{map[string]any{"message": "the fake answers the viewer query only"}}})
			return
		}
		reply(w, http.StatusOK, map[string]any{"data": map[string]any{"viewer": map[string]any{"login": s.identity.Login}}})
	})
	m.HandleFunc("GET /user", func(w http.ResponseWriter, r *http.Request) {
		if !s.identity.REST {
			fail(w, http.StatusForbidden, "Resource not accessible by integration")
			return
		}
		reply(w, http.StatusOK, map[string]any{"login": s.identity.Login, "type": s.identity.Type, "id": 1})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.calls = append(s.calls, r.Method+" "+r.URL.Path)
		if r.URL.Path != "/graphql" && r.URL.Path != "/user" &&
			!strings.HasPrefix(r.URL.Path, "/repos/"+s.Owner+"/"+s.Repo+"/") && r.URL.Path != "/repos/"+s.Owner+"/"+s.Repo {
			fail(w, http.StatusNotFound, "Not Found")
			return
		}
		if r.Header.Get("Authorization") == "" {
			fail(w, http.StatusUnauthorized, "Requires authentication")
			return
		}
		m.ServeHTTP(w, r)
	})
}

func ref(branch, sha string) map[string]any {
	return map[string]any{"ref": "refs/heads/" + branch, "object": map[string]any{"type": "commit", "sha": sha}}
}

func commitJSON(c *Commit) map[string]any {
	var parents []any
	for _, p := range c.Parents {
		parents = append(parents, map[string]any{"sha": p})
	}
	return map[string]any{"sha": c.SHA, "message": c.Message, "tree": map[string]any{"sha": c.Tree}, "parents": parents}
}

func treeJSON(sha string, tree map[string]string) map[string]any {
	paths := make([]string, 0, len(tree))
	for p := range tree {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	entries := []any{}
	for _, p := range paths {
		entries = append(entries, map[string]any{"path": p, "mode": "100644", "type": "blob", "sha": tree[p]})
	}
	return map[string]any{"sha": sha, "tree": entries, "truncated": false}
}

func (s *Server) commentJSON(c *Comment) map[string]any {
	return map[string]any{"id": c.ID, "body": c.Body, "user": map[string]any{"login": c.Author, "type": c.AuthorType},
		"html_url": fmt.Sprintf("https://github.example/%s/%s/pull/%d#issuecomment-%d", s.Owner, s.Repo, c.Issue, c.ID)}
}

func (s *Server) pullJSON(p *PullRequest) map[string]any {
	return map[string]any{"number": p.Number, "state": "open",
		"html_url": fmt.Sprintf("https://github.example/%s/%s/pull/%d", s.Owner, s.Repo, p.Number),
		"head":     map[string]any{"ref": p.HeadRef, "sha": s.refs[p.HeadRef]},
		"base":     map[string]any{"ref": p.BaseRef, "sha": p.BaseSHA}}
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		fail(w, http.StatusBadRequest, "Problems parsing JSON: "+err.Error())
		return false
	}
	return true
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, code int, msg string) {
	reply(w, code, map[string]any{"message": msg})
}
