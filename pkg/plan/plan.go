// Package plan writes rendered objects as the plan the release manager reviews: one file
// per object under a stable name, Secret data redacted, written atomically so that a failed
// run never leaves a half-written directory.
//
// The official charts the Argo CD Applications install (render.Result.Official) are planned
// beside ours, in a directory named after the Application: release/<env>/<application>/.
//
// Names come from pull requests. pkg/validate already refuses names the API server would
// reject; this package checks again, on its own, that every file stays inside its chart's
// directory of the plan, that an Application's directory is one DNS-1123 name that no
// chart of ours can own, and it never writes through a symbolic link.
package plan

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/microservices-manifests/microservices-manifests/internal/escape"
	"github.com/microservices-manifests/microservices-manifests/pkg/discovery"
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
// reviewers see which keys exist) and the fields its Application does not compare
// (render.Object.Ignored) replaced by Ignored. Other objects are returned as they are; the
// object itself is never modified.
func Redact(o *render.Object) map[string]any {
	body := o.Body
	if o.Kind == "Secret" && o.APIVersion == "v1" {
		body = make(map[string]any, len(o.Body))
		for k, v := range o.Body {
			body[k] = v
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
			body[field] = red
		}
	}
	for _, ptr := range o.Ignored {
		body = mask(body, ptr)
	}
	return body
}

// Ignored replaces, in the plan and the diff, a value the object's Application tells Argo CD
// not to compare (spec.ignoreDifferences): one generated at every render.
const Ignored = "<ignored (generated at every render; the Application lists it in spec.ignoreDifferences)>"

// mask returns body with the value at JSON pointer ptr replaced by Ignored, copying only
// the maps and lists on the way; a pointer that leads nowhere leaves body as it is.
func mask(body map[string]any, ptr string) map[string]any {
	keys := strings.Split(strings.TrimPrefix(ptr, "/"), "/")
	for i, k := range keys {
		keys[i] = strings.NewReplacer("~1", "/", "~0", "~").Replace(k)
	}
	var set func(v any, keys []string) (any, bool)
	set = func(v any, keys []string) (any, bool) {
		if len(keys) == 0 {
			return Ignored, true
		}
		switch x := v.(type) {
		case map[string]any:
			c, ok := x[keys[0]]
			if !ok {
				return v, false
			}
			nv, ok := set(c, keys[1:])
			if !ok {
				return v, false
			}
			out := make(map[string]any, len(x))
			for k, e := range x {
				out[k] = e
			}
			out[keys[0]] = nv
			return out, true
		case []any:
			i, err := strconv.Atoi(keys[0])
			if err != nil || i < 0 || i >= len(x) {
				return v, false
			}
			nv, ok := set(x[i], keys[1:])
			if !ok {
				return v, false
			}
			out := append([]any{}, x...)
			out[i] = nv
			return out, true
		}
		return v, false
	}
	if ptr == "" {
		return body
	}
	out, _ := set(body, keys)
	m, _ := out.(map[string]any)
	return m
}

// Marshal is the object's plan text: a source comment, then the redacted object as YAML
// with sorted keys and two-space indentation. The same object gives the same bytes.
func Marshal(chartID, env string, o *render.Object) ([]byte, error) {
	return marshal(fmt.Sprintf("# Source: %s\n# Chart: %s, environment: %s\n", o.Template, chartID, env), o)
}

// marshalIn is Marshal for an object of res. An official chart's object names its
// Application and chart, not the chart's version: a version bump then changes only the
// files whose objects change.
func marshalIn(res *render.Result, o *render.Object) ([]byte, error) {
	if s := res.Official; s != nil {
		// These come from the Application and the chart archive, not from our layout: a
		// newline in a repoURL must not end the comment and start YAML.
		v := escape.Visible
		return marshal(fmt.Sprintf("# Source: %s\n# Application: %s, chart %s (%s), environment: %s\n", v(o.Template), v(s.Application), v(s.Chart), v(s.RepoURL), v(res.Env)), o)
	}
	return Marshal(res.Chart.ID, res.Env, o)
}

func marshal(header string, o *render.Object) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(header)
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

// CheckApplicationDir proves that name, an Application whose official chart is planned in
// release/<env>/<name>/, is one DNS-1123 name (so one directory, no "..", no slash) and not
// the first directory of the layout (app, infra, deploy, charts), where our charts' plans
// live: an Application called "app" would mix its files with those of app/<chart> and a
// reviewer could not tell whose they are.
func CheckApplicationDir(name string) error {
	if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
		return fmt.Errorf("Application %s cannot name a plan directory: %s", schema.Quote(name), strings.Join(msgs, "; "))
	}
	for _, root := range discovery.Roots {
		if top, _, _ := strings.Cut(root, "/"); name == top {
			return fmt.Errorf("Application %s cannot name a plan directory: release/<env>/%s/ holds the plans of the charts under %s/; rename the Application", schema.Quote(name), top, top)
		}
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

// Files returns the plan as file name -> content, for the given renders: ours and the
// official charts' (in <application>/). An object whose file would not be a file of its
// chart's directory, or an Application that cannot name a directory (CheckApplicationDir),
// is an error naming it.
func Files(renders []*render.Result) (map[string][]byte, error) {
	files := map[string][]byte{}
	for _, res := range renders {
		if res.Official != nil {
			if err := CheckApplicationDir(res.Chart.ID); err != nil {
				return nil, fmt.Errorf("%s [%s]: %w", res.Official.Describe(), res.Env, err)
			}
		}
		for _, o := range res.Objects {
			name := FileName(res.Chart.ID, o)
			if err := CheckFileName(res.Chart.ID, name); err != nil {
				return nil, fmt.Errorf("%s in %s: %w", schema.ObjectID(o.Kind, o.Namespace, o.Name), o.Template, err)
			}
			if _, dup := files[name]; dup {
				return nil, fmt.Errorf("two objects map to plan file %s", name)
			}
			data, err := marshalIn(res, o)
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
			data, err := marshalIn(res, o)
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

// Keep adds to files (the plan of one environment, names relative to its directory dir)
// what dir already holds under <application>/ for each of applications that has no file in
// files: the plan of an Application whose official chart could not be rendered this time
// (offline, its repository unreachable; a finding says so) stays as it was rather than being
// deleted by a plan that could not see it. Only regular files are kept, read through an
// os.Root (no link leads out of dir); a missing dir or directory keeps nothing.
func Keep(dir string, files map[string][]byte, applications []string) error {
	root, err := os.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer root.Close()
	for _, app := range applications {
		if CheckApplicationDir(app) != nil {
			continue
		}
		rendered := false
		for name := range files {
			if strings.HasPrefix(name, app+"/") {
				rendered = true
				break
			}
		}
		if fi, err := root.Lstat(app); rendered || err != nil || !fi.IsDir() {
			continue // rendered, never planned, or not a plain directory: nothing to keep
		}
		err := fs.WalkDir(root.FS(), app, func(name string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.Type().IsRegular() {
				return nil
			}
			data, err := root.ReadFile(name)
			if err != nil {
				return err
			}
			files[name] = data
			return nil
		})
		if err != nil {
			return fmt.Errorf("keep the plan of %s: %w", app, err)
		}
	}
	return nil
}
