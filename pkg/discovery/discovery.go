// Package discovery finds the charts and environments of the repository from its layout.
//
// Nothing is hard-coded: a chart is any directory holding a Chart.yaml under one of the
// layout's roots (app/, infra/, deploy/argocd/, charts/), and an environment is any name
// that appears as values-<env>.yaml beside a chart. Adding a service or an environment is
// adding files, not code.
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

	"sigs.k8s.io/yaml"
)

// Roots are the top-level directories of the layout that hold charts, in the order the
// mission names them.
var Roots = []string{"app", "infra", "deploy/argocd", "charts"}

// NamespaceAnnotation in Chart.yaml names the namespace the chart is released into
// (Helm's .Release.Namespace). Charts without it are released into their own name.
const NamespaceAnnotation = "microservices-manifests.io/namespace"

var valuesFile = regexp.MustCompile(`^values-([a-z0-9][a-z0-9-]*)\.yaml$`)

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
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() {
				return nil
			}
			if path != dir && (d.Name() == "templates" || d.Name() == "charts" && isChart(filepath.Dir(path)) || strings.HasPrefix(d.Name(), ".")) {
				return fs.SkipDir
			}
			if !isChart(path) {
				return nil
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

func isChart(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "Chart.yaml"))
	return err == nil
}

func readChart(root, dir string) (Chart, error) {
	rel, err := filepath.Rel(root, dir)
	if err != nil {
		return Chart{}, err
	}
	id := filepath.ToSlash(rel)
	data, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
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
	for _, e := range entries {
		if m := valuesFile.FindStringSubmatch(e.Name()); m != nil && !e.IsDir() {
			c.ValuesFiles[m[1]] = id + "/" + e.Name()
		}
	}
	return c, nil
}
