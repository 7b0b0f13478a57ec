package values

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chartutil"

	"github.com/microservices-manifests/microservices-manifests/pkg/discovery"
	"github.com/microservices-manifests/microservices-manifests/pkg/repofs"
	"github.com/microservices-manifests/microservices-manifests/pkg/report"
	"github.com/microservices-manifests/microservices-manifests/pkg/validate"
)

var (
	serviceName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	// imageTag is the OCI distribution spec's tag grammar.
	imageTag = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	digest   = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
)

// ImageSetter sets the image tag (and digest) of a service's container in its values file,
// in place: the backend repository's CI proposes image bumps with it.
type ImageSetter struct {
	Root string
	// Service is the chart under app/ ("account").
	Service string
	// Env selects values-<env>.yaml; empty means the chart's values.yaml (every environment).
	Env string
	Tag string
	// Digest ("sha256:...") pins the image; when empty, a digest in the edited file is
	// cleared, since it would otherwise keep the old image.
	Digest string
	// Container is the container whose image changes; empty means "app".
	Container string
	// Validator checks the chart before and after the edit (Root and Charts are set here);
	// nil means the full validation of `platform validate`.
	Validator *validate.Validator
}

// Change is one edited value.
type Change struct {
	File string `json:"file"`
	Path string `json:"path"`
	Old  string `json:"old"`
	New  string `json:"new"`
}

func (c Change) String() string {
	return fmt.Sprintf("%s: %s: %q -> %q", c.File, c.Path, c.Old, c.New)
}

// ImageResult says what changed and where the new tag is not what an environment gets.
type ImageResult struct {
	Chart   string   `json:"chart"`
	File    string   `json:"file"`
	Changes []Change `json:"changes"`
	// Notes name environments whose values file overrides the edited value.
	Notes  []string       `json:"notes,omitempty"`
	Report *report.Report `json:"-"`
}

// Run edits the file, then validates the chart in every environment; on any finding the
// file is restored and the report returned with the error.
func (s *ImageSetter) Run(ctx context.Context) (*ImageResult, error) {
	if !serviceName.MatchString(s.Service) {
		return nil, fmt.Errorf("invalid service name %q", s.Service)
	}
	if !imageTag.MatchString(s.Tag) || s.Tag == "latest" {
		return nil, fmt.Errorf("invalid image tag %q: want [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}, and never latest", s.Tag)
	}
	if s.Digest != "" && !digest.MatchString(s.Digest) {
		return nil, fmt.Errorf("invalid digest %q: want sha256:<64 hex digits>", s.Digest)
	}
	container := s.Container
	if container == "" {
		container = "app"
	}
	repo, err := discovery.Discover(s.Root)
	if err != nil {
		return nil, err
	}
	id := "app/" + s.Service
	c, ok := repo.Chart(id)
	if !ok || c.Library() {
		return nil, fmt.Errorf("unknown service %q: no chart %s (services: %v)", s.Service, id, services(repo))
	}
	defaults, err := readFile(repo.Root, id+"/values.yaml")
	if err != nil {
		return nil, err
	}
	base := Path{"containers", container, "image"}
	if _, ok := Lookup(defaults, base[:2]); !ok {
		return nil, fmt.Errorf("unknown service %q: %s/values.yaml has no containers.%s", s.Service, id, container)
	}
	rel := id + "/values.yaml"
	if s.Env != "" {
		if rel, ok = c.ValuesFiles[s.Env]; !ok {
			return nil, fmt.Errorf("unknown environment %q for %s (found: %v)", s.Env, id, repo.Environments)
		}
	}
	path := filepath.Join(repo.Root, filepath.FromSlash(rel))
	// Read through repofs: the file written back below is then known to be a regular file
	// of the repository, not a link to one elsewhere.
	orig, err := repofs.ReadFile(repo.Root, rel)
	if err != nil {
		return nil, err
	}
	res := &ImageResult{Chart: id, File: rel}
	data := orig
	tagPath := append(base[:3:3], "tag")
	digestPath := append(base[:3:3], "digest")
	data, old, err := SetScalar(data, tagPath, s.Tag)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	if old != s.Tag {
		res.Changes = append(res.Changes, Change{File: rel, Path: tagPath.String(), Old: old, New: s.Tag})
	}
	cur, err := readBytes(data)
	if err != nil {
		return nil, err
	}
	oldDigest, _ := Lookup(cur, digestPath)
	if od, _ := oldDigest.(string); s.Digest != "" || od != "" {
		if od != s.Digest {
			if data, _, err = SetScalar(data, digestPath, s.Digest); err != nil {
				return nil, fmt.Errorf("%s: %w", rel, err)
			}
			res.Changes = append(res.Changes, Change{File: rel, Path: digestPath.String(), Old: od, New: s.Digest})
		}
	}
	if len(res.Changes) == 0 {
		return res, nil
	}
	// The edit must not add an error; errors the chart already had are not set-image's.
	before, err := s.validate(ctx, repo.Root, id)
	if err != nil {
		return nil, err
	}
	if err := writeKeepingMode(path, data); err != nil {
		return nil, err
	}
	vres, err := s.validate(ctx, repo.Root, id)
	if err == nil {
		if added := newErrors(before.Report, vres.Report); len(added) > 0 {
			res.Report = &report.Report{Findings: added, Objects: vres.Report.Objects, Charts: vres.Report.Charts, Envs: vres.Report.Envs}
			err = fmt.Errorf("%s no longer validates: %d new error(s)", rel, len(added))
		}
	}
	if err != nil {
		if rerr := writeKeepingMode(path, orig); rerr != nil {
			return res, errors.Join(err, fmt.Errorf("restore %s: %w", rel, rerr))
		}
		return res, fmt.Errorf("%w (restored)", err)
	}
	res.Report = vres.Report
	res.Notes = s.overrides(repo, c, tagPath, digestPath)
	return res, nil
}

func (s *ImageSetter) validate(ctx context.Context, root, id string) (*validate.Result, error) {
	v := validate.Validator{}
	if s.Validator != nil {
		v = *s.Validator
	}
	v.Root, v.Charts = root, []string{id}
	return v.Run(ctx)
}

// newErrors are the errors of after that before did not have, compared by where they are
// and which rule found them (messages may quote the edited value).
func newErrors(before, after *report.Report) []report.Finding {
	key := func(f report.Finding) string {
		return strings.Join([]string{f.Rule, f.Chart, f.Env, f.File, f.Object, f.Path}, "\x00")
	}
	had := map[string]bool{}
	for _, f := range before.Findings {
		if f.Severity == report.Error {
			had[key(f)] = true
		}
	}
	var out []report.Finding
	for _, f := range after.Findings {
		if f.Severity == report.Error && !had[key(f)] {
			out = append(out, f)
		}
	}
	return out
}

// overrides lists environments where the image differs from the one just set.
func (s *ImageSetter) overrides(repo *discovery.Repo, c discovery.Chart, tagPath, digestPath Path) []string {
	defaults, err := readFile(repo.Root, c.ID+"/values.yaml")
	if err != nil {
		return nil
	}
	envs := make([]string, 0, len(c.ValuesFiles))
	for env := range c.ValuesFiles {
		envs = append(envs, env)
	}
	sort.Strings(envs)
	var notes []string
	for _, env := range envs {
		if s.Env != "" && env != s.Env {
			continue
		}
		envVals, err := readFile(repo.Root, c.ValuesFiles[env])
		if err != nil {
			continue
		}
		merged := chartutil.CoalesceTables(envVals, copyMap(defaults))
		tag, _ := Lookup(merged, tagPath)
		dg, _ := Lookup(merged, digestPath)
		if tag != s.Tag {
			notes = append(notes, fmt.Sprintf("%s: %s overrides %s with %v", env, c.ValuesFiles[env], tagPath, tag))
		}
		if d, _ := dg.(string); d != s.Digest {
			notes = append(notes, fmt.Sprintf("%s: the image stays pinned to digest %s (%s)", env, d, digestPath))
		}
	}
	return notes
}

func services(repo *discovery.Repo) []string {
	var out []string
	for _, c := range repo.Renderable() {
		if dir, name := filepath.Split(c.ID); dir == "app/" {
			out = append(out, name)
		}
	}
	return out
}

// readFile reads the values file rel of the repository at root; missing is empty.
func readFile(root, rel string) (map[string]any, error) {
	data, err := repofs.ReadFile(root, rel)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]any{}, nil
	}
	if err != nil {
		return nil, err
	}
	return readBytes(data)
}

func readBytes(data []byte) (map[string]any, error) {
	return chartutil.ReadValues(data)
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			v = copyMap(sub)
		}
		out[k] = v
	}
	return out
}

func writeKeepingMode(path string, data []byte) error {
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	return os.WriteFile(path, data, mode)
}
