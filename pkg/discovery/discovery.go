// Package discovery finds the charts and environments of the repository from its layout.
//
// Nothing is hard-coded: a chart is any directory holding a Chart.yaml under one of the
// layout's roots (app/, infra/, deploy/argocd/, charts/), and an environment is any name
// that appears as values-<env>.yaml beside a chart. Adding a service or an environment is
// adding files, not code.
//
// Discovery reads the repository through pkg/repofs and follows no symlink: a chart
// directory, a layout root or a Chart.yaml that is a symlink is an error naming it, not a
// chart silently skipped or read from wherever the link points.
package discovery

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode"

	"sigs.k8s.io/yaml"

	"github.com/microservices-manifests/microservices-manifests/internal/escape"
	"github.com/microservices-manifests/microservices-manifests/pkg/repofs"
)

// Roots are the top-level directories of the layout that hold charts, in the order the
// mission names them.
var Roots = []string{"app", "infra", "deploy/argocd", "charts"}

// NamespaceAnnotation in Chart.yaml names the namespace the chart is released into
// (Helm's .Release.Namespace). Charts without it are released into their own name.
const NamespaceAnnotation = "microservices-manifests.io/namespace"

var valuesFile = regexp.MustCompile(`^values-([a-z0-9][a-z0-9-]*)\.yaml$`)

// MaxNameEcho bounds how much of a name read from a chart an error repeats.
const MaxNameEcho = 64

// Chart is one chart found in the repository.
type Chart struct {
	// ID is the chart's directory relative to the repository root, slash-separated
	// (e.g. "app/account"); unique, and the name used in every finding.
	ID string
	// Name, Version and Type come from Chart.yaml.
	Name    string
	Version string
	Type    string // "application" or "library"
	// Namespace is the release namespace (see NamespaceAnnotation).
	Namespace string
	// Dir is the chart's absolute directory.
	Dir string
	// ValuesFiles maps an environment to its values file, relative to the repository root.
	ValuesFiles map[string]string
}

// Library reports whether the chart is a library chart (never rendered on its own).
func (c Chart) Library() bool { return c.Type == "library" }

// Root is the repository root the chart was discovered in: Dir without ID, or "" when Dir
// does not end with ID.
func (c Chart) Root() string {
	dir := filepath.Clean(c.Dir)
	if c.ID == "" {
		return ""
	}
	root, ok := strings.CutSuffix(dir, string(filepath.Separator)+filepath.FromSlash(c.ID))
	if !ok {
		return ""
	}
	if root == "" {
		return string(filepath.Separator)
	}
	return root
}

// Repo is the result of a discovery.
type Repo struct {
	Root   string
	Charts []Chart // sorted by ID
	// Environments is the union of every chart's environments, sorted.
	Environments []string
}

// Chart returns the chart with the given ID.
func (r *Repo) Chart(id string) (Chart, bool) {
	for _, c := range r.Charts {
		if c.ID == id {
			return c, true
		}
	}
	return Chart{}, false
}

// Renderable returns the application charts, the ones that are rendered per environment.
func (r *Repo) Renderable() []Chart {
	var out []Chart
	for _, c := range r.Charts {
		if !c.Library() {
			out = append(out, c)
		}
	}
	return out
}

type chartFile struct {
	Name        string            `json:"name"`
	Version     string            `json:"version"`
	Type        string            `json:"type"`
	Annotations map[string]string `json:"annotations"`
}

// Discover walks the layout under root.
func Discover(root string) (*Repo, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	repo := &Repo{Root: abs}
	envs := map[string]bool{}
	for _, top := range Roots {
		dir := filepath.Join(abs, filepath.FromSlash(top))
		// WalkDir follows its root when it is a symlink: app -> / must not be walked.
		if fi, err := repofs.Stat(abs, top); errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("discover %s: %w", top, err)
		} else if !fi.IsDir() {
			continue
		}
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type()&fs.ModeSymlink != 0 {
				return symlinkedChart(abs, path, d)
			}
			if !d.IsDir() {
				return nil
			}
			if path != dir && (d.Name() == "templates" || d.Name() == "charts" && isChartDir(filepath.Dir(path)) || strings.HasPrefix(d.Name(), ".")) {
				return fs.SkipDir
			}
			ok, err := isChart(abs, path)
			if err != nil || !ok {
				return err
			}
			c, err := readChart(abs, path)
			if err != nil {
				return err
			}
			for env := range c.ValuesFiles {
				envs[env] = true
			}
			repo.Charts = append(repo.Charts, c)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("discover %s: %w", top, err)
		}
	}
	sort.Slice(repo.Charts, func(i, j int) bool { return repo.Charts[i].ID < repo.Charts[j].ID })
	for env := range envs {
		repo.Environments = append(repo.Environments, env)
	}
	sort.Strings(repo.Environments)
	return repo, nil
}

// isChart reports whether dir holds a Chart.yaml; one that is a symlink or not a regular
// file is an error.
func isChart(root, dir string) (bool, error) {
	rel, err := filepath.Rel(root, filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return false, err
	}
	fi, err := repofs.Stat(root, rel)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !fi.Mode().IsRegular() {
		return false, &repofs.Error{Path: filepath.ToSlash(rel), Rule: repofs.RuleNotRegular, Msg: "Chart.yaml is not a regular file"}
	}
	return true, nil
}

// isChartDir is isChart for skipping a charts/ directory: only its existence matters.
func isChartDir(dir string) bool {
	_, err := os.Lstat(filepath.Join(dir, "Chart.yaml"))
	return err == nil
}

// symlinkedChart reports a symlink met while walking a layout root when it would have been
// a chart, or part of one: a link to a directory (WalkDir does not follow it, so its chart
// would be silently missing) or a link named Chart.yaml. Other links are refused by
// whatever reads them.
func symlinkedChart(root, path string, d fs.DirEntry) error {
	rel, err := filepath.Rel(root, path)
	if err != nil {
		return err
	}
	rel = filepath.ToSlash(rel)
	if d.Name() == "Chart.yaml" {
		return &repofs.Error{Path: rel, Rule: repofs.RuleSymlink, Msg: "Chart.yaml is a symbolic link; symbolic links are never followed"}
	}
	// Stat only tells whether the link leads to a directory; nothing is read through it.
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return &repofs.Error{Path: rel, Rule: repofs.RuleSymlink, Msg: "a symbolic link to a directory; symbolic links are never followed: commit the directory itself"}
	}
	return nil
}

func readChart(root, dir string) (Chart, error) {
	rel, err := filepath.Rel(root, dir)
	if err != nil {
		return Chart{}, err
	}
	id := filepath.ToSlash(rel)
	data, err := repofs.ReadFile(root, id+"/Chart.yaml")
	if err != nil {
		return Chart{}, err
	}
	var cf chartFile
	if err := yaml.Unmarshal(data, &cf); err != nil {
		return Chart{}, fmt.Errorf("%s/Chart.yaml: %w", id, err)
	}
	if cf.Name == "" {
		return Chart{}, fmt.Errorf("%s/Chart.yaml: missing name", id)
	}
	// The name becomes file and template paths: Helm's own rule, checked before any use.
	if cf.Name == "." || cf.Name == ".." || strings.ContainsAny(cf.Name, `/\`) || strings.ContainsFunc(cf.Name, unicode.IsControl) {
		return Chart{}, fmt.Errorf("%s/Chart.yaml: name %s is not allowed: a chart name is a single path component", id, escape.Quote(cf.Name, MaxNameEcho))
	}
	c := Chart{
		ID:          id,
		Name:        cf.Name,
		Version:     cf.Version,
		Type:        cf.Type,
		Namespace:   cf.Annotations[NamespaceAnnotation],
		Dir:         dir,
		ValuesFiles: map[string]string{},
	}
	if c.Type == "" {
		c.Type = "application"
	}
	if c.Namespace == "" {
		c.Namespace = c.Name
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return Chart{}, err
	}
	// Whatever a values-<env>.yaml is (a directory, a FIFO, a symlink), the environment is
	// listed: reading it through repofs then fails with a finding that says why.
	for _, e := range entries {
		if m := valuesFile.FindStringSubmatch(e.Name()); m != nil {
			c.ValuesFiles[m[1]] = id + "/" + e.Name()
		}
	}
	return c, nil
}
