// Package plan writes rendered objects as the plan the release manager reviews: one file
// per object under a stable name, Secret data redacted, written atomically so that a failed
// run never leaves a half-written directory.
//
// Names come from pull requests. pkg/validate already refuses names the API server would
// reject; this package checks again, on its own, that every file stays inside its chart's
// directory of the plan, and it never writes through a symbolic link.
package plan

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/microservices-manifests/microservices-manifests/pkg/render"
	"github.com/microservices-manifests/microservices-manifests/pkg/schema"
)

// Redacted replaces every value of a Secret's data and stringData in the plan.
const Redacted = "<redacted>"

// FileName is the object's path inside the plan directory:
// <chart>/<namespace|cluster>_<kind>[.<group>]_<name>.yaml, all lowercase.
func FileName(chartID string, o *render.Object) string {
	ns := o.Namespace
	if ns == "" {
		ns = "cluster"
	}
	kind := strings.ToLower(o.Kind)
	if group, _, ok := strings.Cut(o.APIVersion, "/"); ok {
		kind += "." + group
	}
	return chartID + "/" + strings.ToLower(ns+"_"+kind+"_"+o.Name) + ".yaml"
}

// Redact returns the object's body with Secret data replaced by Redacted (keys are kept so
// reviewers see which keys exist). Other objects are returned as they are.
func Redact(o *render.Object) map[string]any {
	if o.Kind != "Secret" || o.APIVersion != "v1" {
		return o.Body
	}
	out := make(map[string]any, len(o.Body))
	for k, v := range o.Body {
		out[k] = v
	}
	for _, field := range []string{"data", "stringData"} {
		m, ok := o.Body[field].(map[string]any)
		if !ok {
			continue
		}
		red := make(map[string]any, len(m))
		for k := range m {
			red[k] = Redacted
		}
		out[field] = red
	}
	return out
}

// Marshal is the object's plan text: a source comment, then the redacted object as YAML
// with sorted keys and two-space indentation. The same object gives the same bytes.
func Marshal(chartID, env string, o *render.Object) ([]byte, error) {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# Source: %s\n# Chart: %s, environment: %s\n", o.Template, chartID, env)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(Redact(o)); err != nil {
		return nil, fmt.Errorf("marshal %s: %w", o.ID(), err)
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// maxBase is the longest file name most file systems accept (NAME_MAX).
const maxBase = 255

// CheckFileName proves that name, a plan file name of chart chartID, is one file directly
// in the chart's directory: clean, local, <chartID>/<one element>, no NUL, at most maxBase
// bytes. It guards the plan against rendered names such as "../../../../tmp/x".
func CheckFileName(chartID, name string) error {
	if chartID == "" || !filepath.IsLocal(chartID) || path.Clean(chartID) != chartID || strings.ContainsAny(chartID, "\\\x00") {
		return fmt.Errorf("chart %s is not a clean relative directory", schema.Quote(chartID))
	}
	base, ok := strings.CutPrefix(name, chartID+"/")
	switch {
	case !ok || base == "" || strings.ContainsAny(base, "/\\\x00") || base == "." || base == "..":
		return fmt.Errorf("plan file %s is not a file of %s", schema.Quote(name), chartID)
	case len(base) > maxBase:
		return fmt.Errorf("plan file %s: name of %d bytes, longer than %d", schema.Quote(name), len(base), maxBase)
	case path.Clean(name) != name || !filepath.IsLocal(filepath.FromSlash(name)):
		return fmt.Errorf("plan file %s is not a clean relative path", schema.Quote(name))
	}
	return nil
}

// checkNames proves every name of files is a clean relative path, before anything is written.
func checkNames(files map[string][]byte) error {
	for name := range files {
		if name == "" || path.Clean(name) != name || !filepath.IsLocal(filepath.FromSlash(name)) || strings.ContainsAny(name, "\\\x00") {
			return fmt.Errorf("plan file %s is not a clean relative path: nothing written", schema.Quote(name))
		}
	}
	return nil
}

// Files returns the plan as file name -> content, for the given renders. An object whose
// file would not be a file of its chart's directory is an error naming it.
func Files(renders []*render.Result) (map[string][]byte, error) {
	files := map[string][]byte{}
	for _, res := range renders {
		for _, o := range res.Objects {
			name := FileName(res.Chart.ID, o)
			if err := CheckFileName(res.Chart.ID, name); err != nil {
				return nil, fmt.Errorf("%s in %s: %w", schema.ObjectID(o.Kind, o.Namespace, o.Name), o.Template, err)
			}
			if _, dup := files[name]; dup {
				return nil, fmt.Errorf("two objects map to plan file %s", name)
			}
			data, err := Marshal(res.Chart.ID, res.Env, o)
			if err != nil {
				return nil, err
			}
			files[name] = data
		}
	}
	return files, nil
}

// Stream writes the renders as one multi-document YAML stream, in chart order and, inside
// a chart, in install order: `platform render --out - | kubectl apply -f -` works.
func Stream(w io.Writer, renders []*render.Result) error {
	for _, res := range renders {
		for _, o := range res.Objects {
			data, err := Marshal(res.Chart.ID, res.Env, o)
			if err != nil {
				return err
			}
			if _, err := io.WriteString(w, "---\n"); err != nil {
				return err
			}
			if _, err := w.Write(data); err != nil {
				return err
			}
		}
	}
	return nil
}

// WriteIn is Write of the plan directory rel inside root (e.g. a repository and
// "release/dev"). rel must be local, and none of its existing components under root may
// be a symbolic link: a pull request can commit "release" as a link to anywhere on the
// runner.
func WriteIn(root, rel string, files map[string][]byte) error {
	if !filepath.IsLocal(rel) {
		return fmt.Errorf("plan directory %s is not inside %s", schema.Quote(rel), root)
	}
	if err := noSymlinks(root, filepath.Clean(rel)); err != nil {
		return err
	}
	return write(filepath.Join(root, rel), files)
}

// Write replaces dir with the plan atomically: the files are written into a temporary
// sibling directory which is then renamed over dir. If anything fails, dir keeps its
// previous content. It refuses to write through a symbolic link: dir and its parent
// must not be links, nor, when dir is relative, any existing component of it. Use
// WriteIn to check every component under a repository root.
func Write(dir string, files map[string][]byte) error {
	dir = filepath.Clean(dir)
	var err error
	if filepath.IsLocal(dir) {
		err = noSymlinks(".", dir)
	} else {
		err = noSymlinks(filepath.Dir(filepath.Dir(dir)), filepath.Join(filepath.Base(filepath.Dir(dir)), filepath.Base(dir)))
	}
	if err != nil {
		return err
	}
	return write(dir, files)
}

// noSymlinks fails when an existing component of rel, walked from base, is a symbolic link.
func noSymlinks(base, rel string) error {
	cur := base
	for _, elem := range strings.Split(filepath.ToSlash(rel), "/") {
		if elem == "" || elem == "." {
			continue
		}
		cur = filepath.Join(cur, elem)
		fi, err := os.Lstat(cur)
		if errors.Is(err, os.ErrNotExist) {
			return nil // the rest is created by the write
		}
		if err != nil {
			return err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("refusing to write the plan through %s: it is a symbolic link (remove it; the plan directory must be a real directory)", cur)
		}
		if !fi.IsDir() {
			return fmt.Errorf("refusing to write the plan: %s is not a directory", cur)
		}
	}
	return nil
}

func write(dir string, files map[string][]byte) (err error) {
	if err := checkNames(files); err != nil {
		return err
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := filepath.Join(tmp, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, files[name], 0o644); err != nil {
			return err
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	old := ""
	if _, statErr := os.Stat(dir); statErr == nil {
		old = tmp + ".old"
		if err := os.Rename(dir, old); err != nil {
			return fmt.Errorf("replace %s: %w", dir, err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if old != "" {
			os.Rename(old, dir) // put the previous plan back
		}
		return fmt.Errorf("replace %s: %w", dir, err)
	}
	if old != "" {
		return os.RemoveAll(old)
	}
	return nil
}
