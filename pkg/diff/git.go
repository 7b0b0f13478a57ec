package diff

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/microservices-manifests/microservices-manifests/pkg/render"
	"github.com/microservices-manifests/microservices-manifests/pkg/schema"
	"github.com/microservices-manifests/microservices-manifests/pkg/validate"
)

// Worktree names the working tree (with uncommitted changes) as the head.
const Worktree = "worktree"

// Differ renders two revisions of the git repository at Root and compares them.
type Differ struct {
	Root string
	// Base is a git revision (branch, tag, commit).
	Base string
	// Head is a git revision, or Worktree (or empty) for the working tree at Root.
	Head string
	// Envs restricts the comparison; empty means every environment either side has.
	Envs []string
	// Schemas is shared by both renders; nil loads the embedded set once.
	Schemas *schema.Validator
}

// Run checks out the revisions into temporary git worktrees (removed afterwards), renders
// each with the validate pipeline and compares them.
func (d *Differ) Run(ctx context.Context) (*Result, error) {
	if d.Base == "" {
		return nil, fmt.Errorf("diff needs a base revision")
	}
	if d.Schemas == nil {
		s, err := schema.New()
		if err != nil {
			return nil, err
		}
		d.Schemas = s
	}
	base, err := Render(ctx, d.Root, d.Base, d.Schemas)
	if err != nil {
		return nil, fmt.Errorf("render base %s: %w", d.Base, err)
	}
	head, err := Render(ctx, d.Root, d.Head, d.Schemas)
	if err != nil {
		return nil, fmt.Errorf("render head %s: %w", d.headName(), err)
	}
	res, err := Compare(base, head, d.Envs)
	if err != nil {
		return nil, err
	}
	res.Base, res.Head = d.Base, d.headName()
	return res, nil
}

func (d *Differ) headName() string {
	if d.Head == "" {
		return Worktree
	}
	return d.Head
}

// Render renders revision rev of the git repository at root with the validate pipeline:
// rev is checked out into a temporary detached worktree, removed afterwards. An empty rev
// or Worktree renders root's working tree itself.
func Render(ctx context.Context, root, rev string, schemas *schema.Validator) ([]*render.Result, error) {
	dir := root
	if rev != "" && rev != Worktree {
		tmp, err := os.MkdirTemp("", "platform-diff-")
		if err != nil {
			return nil, err
		}
		os.Remove(tmp) // git worktree add creates it
		if _, err := Git(ctx, root, "worktree", "add", "--detach", "--quiet", tmp, rev+"^{commit}"); err != nil {
			return nil, err
		}
		defer func() {
			// A cancelled context must not leave the worktree registered.
			Git(context.WithoutCancel(ctx), root, "worktree", "remove", "--force", tmp)
			os.RemoveAll(tmp)
		}()
		dir = tmp
	}
	// Policies judge objects, they do not change them: a diff needs the renders (and the
	// schema errors, which say an object is missing), not the policy findings.
	res, err := (&validate.Validator{Root: dir, Schemas: schemas, SkipPolicies: true}).Run(ctx)
	if err != nil {
		return nil, err
	}
	return res.Renders, nil
}

// Git runs git in dir and returns its trimmed stdout; the error carries stderr.
func Git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}
