package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// schemaIndex is the part of pkg/schema/data/index.json naming the CRD sources: the schemas
// the validation uses were generated from exactly these modules and files, so the cluster
// serves the same CRDs the plan was validated against.
const schemaIndex = "pkg/schema/data/index.json"

type indexSource struct {
	Name    string            `json:"name"`
	Module  string            `json:"module"`
	Version string            `json:"version"`
	Sum     string            `json:"sum"`
	Path    string            `json:"path"`
	Files   []string          `json:"files"`
	SHA256  map[string]string `json:"sha256"`
}

// CRDSource is one set of CRDs and where it came from.
type CRDSource struct {
	Name string
	CRDs []*unstructured.Unstructured
}

// LoadCRDs reads the CRDs of every CRD source in the schema index: module sources through
// `go mod download` (the sums must match the index), directory sources (pkg/schema/crds)
// from sharedCRDs, each file checked against its recorded SHA-256. The Kubernetes OpenAPI
// source carries no CRD and is skipped.
func LoadCRDs(ctx context.Context, root, sharedCRDs, goCmd string) ([]CRDSource, error) {
	if goCmd == "" {
		goCmd = "go"
	}
	b, err := os.ReadFile(filepath.Join(root, schemaIndex))
	if err != nil {
		return nil, fmt.Errorf("crd sources: %w", err)
	}
	var idx struct {
		Sources []indexSource `json:"sources"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("crd sources: %s: %w", schemaIndex, err)
	}
	var out []CRDSource
	for _, src := range idx.Sources {
		if src.Module == "k8s.io/kubernetes" {
			continue
		}
		var files map[string][]byte
		switch {
		case src.Module != "":
			files, err = moduleFiles(ctx, goCmd, src.Module, src.Version, src.Sum, src.Files)
		case src.Path != "":
			files, err = sharedFiles(sharedCRDs, src)
		default:
			err = errors.New("neither module nor path")
		}
		if err != nil {
			return nil, fmt.Errorf("crd source %s: %w", src.Name, err)
		}
		names := make([]string, 0, len(files))
		for n := range files {
			names = append(names, n)
		}
		sort.Strings(names)
		s := CRDSource{Name: src.Name}
		for _, n := range names {
			objs, err := decodeYAML(files[n])
			if err != nil {
				return nil, fmt.Errorf("crd source %s: %s: %w", src.Name, n, err)
			}
			for _, o := range objs {
				if o.GetKind() == "CustomResourceDefinition" {
					s.CRDs = append(s.CRDs, o)
				}
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// sharedFiles reads a directory source: src.Path is "pkg/schema/crds/<name>" relative to the
// repository; sharedCRDs is that directory (or another copy of it).
func sharedFiles(sharedCRDs string, src indexSource) (map[string][]byte, error) {
	dir := filepath.Join(sharedCRDs, filepath.Base(src.Path))
	files := map[string][]byte{}
	for _, f := range src.Files {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return nil, err
		}
		if want := src.SHA256[f]; want != "" {
			sum := sha256.Sum256(b)
			if got := hex.EncodeToString(sum[:]); got != want {
				return nil, fmt.Errorf("%s: sha256 %s, want %s (regenerate the schemas: make schemas)", f, got, want)
			}
		}
		files[f] = b
	}
	return files, nil
}

// decodeYAML decodes a multi-document YAML stream into objects (empty documents skipped),
// normalised through JSON so that every number is an int64 or float64 as client-go expects.
func decodeYAML(b []byte) ([]*unstructured.Unstructured, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var out []*unstructured.Unstructured
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if len(doc) == 0 {
			continue
		}
		u, err := toUnstructured(doc)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
}

// toUnstructured converts a decoded object into an Unstructured through JSON.
func toUnstructured(obj map[string]any) (*unstructured.Unstructured, error) {
	j, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(j); err != nil {
		return nil, err
	}
	return u, nil
}

// crdName is "<plural>.<group>" of a CRD, for messages.
func crdName(u *unstructured.Unstructured) string {
	return strings.TrimSpace(u.GetName())
}
