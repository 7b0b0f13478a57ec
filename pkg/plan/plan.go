// Package plan writes rendered objects as the plan the release manager reviews: one file
// per object under a stable name, Secret data redacted, written atomically so that a failed
// run never leaves a half-written directory.
package plan

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/microservices-manifests/microservices-manifests/pkg/render"
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

// Files returns the plan as file name -> content, for the given renders.
func Files(renders []*render.Result) (map[string][]byte, error) {
	files := map[string][]byte{}
	for _, res := range renders {
		for _, o := range res.Objects {
			name := FileName(res.Chart.ID, o)
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

// Write replaces dir with the plan atomically: the files are written into a temporary
// sibling directory which is then renamed over dir. If anything fails, dir keeps its
// previous content.
func Write(dir string, files map[string][]byte) (err error) {
	dir = filepath.Clean(dir)
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
