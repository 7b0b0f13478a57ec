package official

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
	"helm.sh/helm/v3/pkg/chart"

	"github.com/microservices-manifests/microservices-manifests/internal/istiocharts"
	"github.com/microservices-manifests/microservices-manifests/pkg/render"
)

// renderChart is `helm template --include-crds` of ch (internal/istiocharts.Render's
// semantics: Kubernetes render.KubeVersion, apiVersions advertised, the values schema
// enforced, disabled sub-charts dropped, so ch is changed), with one difference: a
// List without metadata.name, which Helm prints and Argo CD flattens, is accepted
// (render.Decode, and so istiocharts.Render, refuses a document without a name).
// Objects come out in file order; Template is the file inside the chart.
func renderChart(ch *chart.Chart, vals map[string]any, name, namespace string, apiVersions []string) ([]*render.Object, error) {
	names, files, err := istiocharts.RenderFiles(ch, vals, name, namespace, apiVersions)
	if err != nil {
		return nil, err
	}
	var objs []*render.Object
	for _, n := range names {
		got, err := decode([]byte(files[n]))
		if err != nil {
			return nil, fmt.Errorf("%s: rendered output is not valid YAML: %w", n, err)
		}
		for _, o := range got {
			o.Template = n
			objs = append(objs, o)
		}
	}
	return objs, nil
}

// maxDocuments bounds the documents of one rendered file.
const maxDocuments = 100000

// decode is render.Decode, but a document that is a list (an `items` array) may lack a
// name: its items are decoded instead, as Argo CD flattens it.
func decode(data []byte) ([]*render.Object, error) {
	objs, err := render.Decode(data)
	if err == nil {
		return objs, nil
	}
	// The slow path, for the rare file that needs it: document by document.
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	var out []*render.Object
	for i := 0; i < maxDocuments; i++ {
		var doc map[string]any
		derr := dec.Decode(&doc)
		if derr != nil {
			if errors.Is(derr, io.EOF) {
				return out, nil
			}
			return nil, derr
		}
		if doc == nil {
			continue
		}
		items, isList := doc["items"].([]any)
		if !isList {
			items = []any{doc}
		} else if len(items) > maxListItems {
			return nil, fmt.Errorf("document %d: %d items, more than %d", i+1, len(items), maxListItems)
		}
		for j, item := range items {
			b, merr := yaml.Marshal(item)
			if merr != nil {
				return nil, fmt.Errorf("document %d: %w", i+1, merr)
			}
			got, derr := render.Decode(b)
			if derr != nil {
				if isList {
					return nil, fmt.Errorf("document %d: items[%d]: %w", i+1, j, derr)
				}
				return nil, fmt.Errorf("document %d: %w", i+1, derr)
			}
			out = append(out, got...)
		}
	}
	return nil, fmt.Errorf("more than %d documents", maxDocuments)
}
