package publish

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"sigs.k8s.io/yaml"

	"github.com/microservices-manifests/microservices-manifests/pkg/discovery"
	"github.com/microservices-manifests/microservices-manifests/pkg/render"
	"github.com/microservices-manifests/microservices-manifests/pkg/repofs"
	"github.com/microservices-manifests/microservices-manifests/pkg/secrets"
	"github.com/microservices-manifests/microservices-manifests/pkg/values"
)

// EnvironmentAnnotation in the published Chart.yaml names the environment whose values
// are baked into the package (Helm copies chart annotations onto the OCI manifest).
const EnvironmentAnnotation = "microservices-manifests.io/environment"

// Epoch is the time stamped on every file of a package and on the OCI manifest
// (org.opencontainers.image.created): the same chart, values and secrets always give the
// same digest, so that publishing twice is a no-op and a changed package is detected.
var Epoch = time.Unix(0, 0).UTC()

var envValuesFile = regexp.MustCompile(`^values-[a-z0-9][a-z0-9-]*\.yaml$`)

// Bake loads chart c with its library dependencies and makes its values.yaml the values of
// env: the chart's values.yaml coalesced with values-<env>.yaml (the environment wins), then
// each secret at its path. The per-environment files are left out of the package, so the
// published chart needs no values from its user. Nothing is written to disk.
func Bake(c discovery.Chart, env, root string, vals []secrets.Value) (*chart.Chart, error) {
	ch, err := render.Load(c)
	if err != nil {
		return nil, err
	}
	rel, ok := c.ValuesFiles[env]
	if !ok {
		return nil, fmt.Errorf("%s has no values file for %s", c.ID, env)
	}
	defaults, err := readValues(root, c.ID+"/values.yaml")
	if err != nil {
		return nil, err
	}
	envVals, err := readValues(root, rel)
	if err != nil {
		return nil, err
	}
	merged := chartutil.CoalesceTables(envVals, defaults)
	var names []string
	for _, v := range vals {
		p, err := values.ParsePath(v.Path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.ID, err)
		}
		// The error names the path, never the value.
		if err := values.Set(merged, p, v.Value); err != nil {
			return nil, fmt.Errorf("%s: secret %s: %w", c.ID, v.Env, err)
		}
		names = append(names, v.Path+" <- $"+v.Env)
	}
	data, err := yaml.Marshal(merged)
	if err != nil {
		return nil, fmt.Errorf("%s: values: %w", c.ID, err)
	}
	header := fmt.Sprintf("# Values of %s %s for environment %s, baked by `platform publish`:\n# %s/values.yaml coalesced with %s",
		c.ID, ch.Metadata.Version, env, c.ID, rel)
	if len(names) > 0 {
		header += ", secrets from the environment:\n#   " + strings.Join(names, "\n#   ")
	}
	data = append([]byte(header+"\n"), data...)

	ch.Values = merged
	raw := slices.DeleteFunc(ch.Raw, func(f *chart.File) bool {
		return f.Name == chartutil.ValuesfileName || envValuesFile.MatchString(f.Name)
	})
	ch.Raw = append(raw, &chart.File{Name: chartutil.ValuesfileName, Data: data})
	ch.Files = slices.DeleteFunc(ch.Files, func(f *chart.File) bool { return envValuesFile.MatchString(f.Name) })
	if ch.Metadata.Annotations == nil {
		ch.Metadata.Annotations = map[string]string{}
	}
	ch.Metadata.Annotations[EnvironmentAnnotation] = env
	return ch, nil
}

// readValues reads the values file rel through repofs: its errors name the file (and the
// rule, when the file is refused).
func readValues(root, rel string) (map[string]any, error) {
	data, err := repofs.ReadFile(root, rel)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]any{}, nil
	}
	if err != nil {
		return nil, err
	}
	vals, err := chartutil.ReadValues(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	return vals, nil
}

// Check renders the baked chart the way its consumer (ArgoCD, helm template) will, with no
// values of its own: the chart's schema holds and every template executes.
func Check(ch *chart.Chart, namespace string) (int, error) {
	if err := chartutil.ProcessDependenciesWithMerge(ch, map[string]any{}); err != nil {
		return 0, err
	}
	caps := chartutil.DefaultCapabilities.Copy()
	kv, err := chartutil.ParseKubeVersion(render.KubeVersion)
	if err != nil {
		return 0, err
	}
	caps.KubeVersion = *kv
	top, err := chartutil.ToRenderValues(ch, map[string]any{}, chartutil.ReleaseOptions{
		Name: ch.Name(), Namespace: namespace, Revision: 1, IsInstall: true,
	}, caps)
	if err != nil {
		return 0, err
	}
	files, err := engine.Render(ch, top)
	if err != nil {
		return 0, err
	}
	n := 0
	for name, body := range files {
		if strings.HasSuffix(name, "NOTES.txt") || strings.TrimSpace(body) == "" {
			continue
		}
		objs, err := render.Decode([]byte(body))
		if err != nil {
			return 0, fmt.Errorf("%s: %w", name, err)
		}
		n += len(objs)
	}
	return n, nil
}

// Package archives the chart as `helm package` does (chartutil.Save), then stamps every
// entry with Epoch so that the archive depends on its content only. Save needs a
// directory: a private temporary one outside the repository, removed before returning.
func Package(ch *chart.Chart, root string) ([]byte, error) {
	tmp, err := os.MkdirTemp("", "platform-publish-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if inside(root, tmp) {
		return nil, fmt.Errorf("temporary directory %s is inside the repository %s: set TMPDIR elsewhere, the package holds secrets", tmp, root)
	}
	file, err := chartutil.Save(ch, tmp)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return normalize(data)
}

func inside(root, path string) bool {
	if root == "" {
		return false
	}
	r1, err1 := filepath.EvalSymlinks(root)
	p1, err2 := filepath.EvalSymlinks(path)
	if err1 != nil || err2 != nil {
		r1, p1 = root, path
	}
	rel, err := filepath.Rel(r1, p1)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// normalize rewrites a chart archive with fixed times, keeping Helm's gzip header, the
// order and the content of every entry.
func normalize(tgz []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Header.Extra = zr.Header.Extra
	zw.Header.Comment = zr.Header.Comment
	tr := tar.NewReader(zr)
	tw := tar.NewWriter(zw)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		h.ModTime, h.AccessTime, h.ChangeTime = Epoch, time.Time{}, time.Time{}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
