package schema

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/microservices-manifests/microservices-manifests/internal/gomod"
)

// GenerateOptions configures Generate.
type GenerateOptions struct {
	// Out is the data directory to (re)write, normally pkg/schema/data.
	Out string
	// SharedCRDs is the directory holding CRDs no module proxy serves
	// (ack-sqs-v1.6.1/, ack-apigatewayv2-v1.4.1/ and a README.md with their provenance).
	SharedCRDs string
	// Kubeconform, when set, also receives standalone per-kind schemas in kubeconform's
	// layout: {{ .ResourceKind }}{{ .KindSuffix }}.json.
	Kubeconform string
	// GoCommand is the go binary used for `go mod download`; "go" when empty.
	GoCommand string
}

// maxFileSize is the size limit of every generated data file.
const maxFileSize = 2 << 20

// moduleSource is a pinned upstream Go module holding schemas.
type moduleSource struct {
	Module    string
	Version   string
	Toolchain string   // GOTOOLCHAIN needed to download it, if its go.mod requires a newer go
	Files     []string // globs inside the module
	CRDs      bool     // Files are CustomResourceDefinition YAML
}

func (m moduleSource) name() string { return m.Module + "@" + m.Version }

// upstreamModules lists the pinned sources. Changing a version here and running
// `make schemas` is how schemas are upgraded.
func upstreamModules() []moduleSource {
	return []moduleSource{
		{
			Module:  "k8s.io/kubernetes",
			Version: "v1.35.4",
			Files:   []string{"api/openapi-spec/v3/*.json", "pkg/generated/openapi/zz_generated.openapi.go"},
		},
		{
			Module:  "istio.io/api",
			Version: "v1.31.4",
			Files:   []string{"kubernetes/customresourcedefinitions.gen.yaml"},
			CRDs:    true,
		},
		{
			Module:    "github.com/argoproj/argo-cd/v3",
			Version:   "v3.6.1",
			Toolchain: "go1.27.3",
			Files:     []string{"manifests/crds/*-crd.yaml"},
			CRDs:      true,
		},
		{
			// The operator kube-prometheus-stack 88.5.3 installs (its appVersion).
			Module:  "github.com/prometheus-operator/prometheus-operator",
			Version: "v0.93.1",
			Files:   []string{"example/prometheus-operator-crd/*.yaml"},
			CRDs:    true,
		},
		{
			// The ExternalSecret that keeps Argo CD's ECR repository Secret fresh and its
			// ECRAuthorizationToken generator. v1.3.2 is the newest release the module proxy
			// serves whole (the chart installed in prd is external-secrets 2.9.0, whose
			// templates carry its own CRDs); both CRDs are served as v1 / v1alpha1 by both.
			Module:  "github.com/external-secrets/external-secrets",
			Version: "v1.3.2",
			Files: []string{
				"config/crds/bases/external-secrets.io_externalsecrets.yaml",
				"config/crds/bases/generators.external-secrets.io_ecrauthorizationtokens.yaml",
			},
			CRDs: true,
		},
	}
}

// sharedCRDsRef is how the index names the shared CRD directory (relative to the
// repository root), independent of the path given to the generator.
const sharedCRDsRef = "pkg/schema/crds"

// index is data/index.json.
type index struct {
	Comment string               `json:"$comment"`
	Sources []indexSource        `json:"sources"`
	Kinds   map[string]kindEntry `json:"kinds"` // key: "apiVersion Kind"
}

type indexSource struct {
	Name       string            `json:"name"`
	Module     string            `json:"module,omitempty"`
	Version    string            `json:"version"`
	Sum        string            `json:"sum,omitempty"`
	Path       string            `json:"path,omitempty"`
	Files      []string          `json:"files"`
	SHA256     map[string]string `json:"sha256,omitempty"`
	Provenance string            `json:"provenance,omitempty"`
}

type kindEntry struct {
	File       string `json:"file"`
	Def        string `json:"def"`
	Namespaced *bool  `json:"namespaced,omitempty"`
	Source     string `json:"source"`
}

const metaFile = "meta.json"

// generated is the in-memory result of a generation run.
type generated struct {
	docs  map[string]map[string]any // data file name -> JSON Schema document
	index index
}

// Generate downloads the pinned sources (through `go mod download -json`, so they
// are checksum-verified), converts them, and atomically replaces opts.Out.
func Generate(ctx context.Context, opts GenerateOptions) error {
	if opts.Out == "" {
		return errors.New("generate: output directory is required")
	}
	if opts.SharedCRDs == "" {
		return errors.New("generate: shared CRD directory is required")
	}
	g, err := build(ctx, opts)
	if err != nil {
		return err
	}
	files := map[string][]byte{}
	for name, doc := range g.docs {
		b, err := encodeJSON(doc)
		if err != nil {
			return fmt.Errorf("encode %s: %w", name, err)
		}
		if len(b) > maxFileSize {
			return fmt.Errorf("encode %s: %d bytes exceeds the %d byte limit", name, len(b), maxFileSize)
		}
		files[name] = b
	}
	ib, err := encodeJSON(g.index)
	if err != nil {
		return fmt.Errorf("encode index: %w", err)
	}
	files["index.json"] = ib
	if err := writeDirAtomic(opts.Out, files); err != nil {
		return err
	}
	if opts.Kubeconform != "" {
		if err := writeKubeconform(opts.Kubeconform, g); err != nil {
			return err
		}
	}
	return nil
}

func build(ctx context.Context, opts GenerateOptions) (*generated, error) {
	goCmd := opts.GoCommand
	if goCmd == "" {
		goCmd = "go"
	}
	g := &generated{
		docs: map[string]map[string]any{},
		index: index{
			Comment: "generated by `go run ./cmd/schemagen` (make schemas); do not edit",
			Kinds:   map[string]kindEntry{},
		},
	}

	// read the shared CRDs first: a wrong -shared-crds fails before any download
	shared, err := readShared(opts.SharedCRDs)
	if err != nil {
		return nil, err
	}

	var metaDefs map[string]any
	type crdFrom struct {
		crd    *convertedCRD
		source string
	}
	var crds []crdFrom
	for _, m := range upstreamModules() {
		dir, sum, err := downloadModule(ctx, goCmd, m)
		if err != nil {
			return nil, err
		}
		g.index.Sources = append(g.index.Sources, indexSource{
			Name: m.name(), Module: m.Module, Version: m.Version, Sum: sum, Files: m.Files,
		})
		var paths []string
		for _, glob := range m.Files {
			matches, err := filepath.Glob(filepath.Join(dir, filepath.FromSlash(glob)))
			if err != nil {
				return nil, fmt.Errorf("glob %s in %s: %w", glob, m.name(), err)
			}
			if len(matches) == 0 {
				return nil, fmt.Errorf("load %s: no files match %s", m.name(), glob)
			}
			sort.Strings(matches)
			paths = append(paths, matches...)
		}
		if !m.CRDs {
			metaDefs, err = buildKubernetes(g, m.name(), dir, paths)
			if err != nil {
				return nil, err
			}
			continue
		}
		for _, p := range paths {
			list, err := readCRDs(p)
			if err != nil {
				return nil, fmt.Errorf("load %s: %w", m.name(), err)
			}
			for _, c := range list {
				crds = append(crds, crdFrom{c, m.name()})
			}
		}
	}

	for _, s := range shared {
		g.index.Sources = append(g.index.Sources, s.source)
		for _, c := range s.crds {
			crds = append(crds, crdFrom{c, s.source.Name})
		}
	}

	if metaDefs == nil {
		return nil, errors.New("generate: no ObjectMeta definition found in the Kubernetes sources")
	}
	g.docs[metaFile] = map[string]any{
		"$schema":  draft2020,
		"$comment": "ObjectMeta and what it references, from k8s.io/kubernetes; embedded into every CRD document",
		"$defs":    metaDefs,
	}

	seenCRD := map[string][]byte{}
	for _, c := range crds {
		enc, err := encodeJSON(c.crd.Versions)
		if err != nil {
			return nil, fmt.Errorf("encode crd %s: %w", c.crd.Name, err)
		}
		if prev, ok := seenCRD[c.crd.Name]; ok {
			if !bytes.Equal(prev, enc) {
				return nil, fmt.Errorf("crd %s is defined twice with different schemas (second in %s)", c.crd.Name, c.source)
			}
			continue // identical copy shipped by another source (ACK runtime CRDs)
		}
		seenCRD[c.crd.Name] = enc
		file := "crd-" + c.crd.Name + ".json"
		g.docs[file] = crdDocument(c.crd, metaDefs, "generated from "+c.source+" (CustomResourceDefinition "+c.crd.Name+"); do not edit")
		ns := c.crd.Namespaced
		for _, v := range c.crd.Versions {
			key := v.APIVersion + " " + v.Kind
			if prev, ok := g.index.Kinds[key]; ok {
				return nil, fmt.Errorf("%s is defined by both %s and %s", key, prev.Source, c.source)
			}
			g.index.Kinds[key] = kindEntry{File: file, Def: v.Def, Namespaced: &ns, Source: c.source}
		}
	}
	return g, nil
}

// downloadModule returns the module's directory and sum (internal/gomod: outside any
// module, so nothing touches the repository's go.mod).
func downloadModule(ctx context.Context, goCmd string, m moduleSource) (string, string, error) {
	var env []string
	if m.Toolchain != "" {
		env = append(env, "GOTOOLCHAIN="+m.Toolchain)
	}
	mod, err := gomod.Download(ctx, goCmd, m.Module, m.Version, env...)
	if err != nil {
		return "", "", err
	}
	if mod.Dir == "" {
		return "", "", fmt.Errorf("download %s: not extracted: %s", m.name(), mod.Problem)
	}
	return mod.Dir, mod.Sum, nil
}

var k8sSpecName = regexp.MustCompile(`^(?:api__(v[0-9a-z]+)|apis__([a-z0-9.-]+)__(v[0-9a-z]+))_openapi\.json$`)

// buildKubernetes converts the OpenAPI v3 group-version files. It returns the
// ObjectMeta closure for the CRD documents.
func buildKubernetes(g *generated, source, moduleDir string, paths []string) (map[string]any, error) {
	var enums map[string][]enumAt
	for _, p := range paths {
		if filepath.Base(p) == "zz_generated.openapi.go" {
			src, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("load %s: %w", p, err)
			}
			if enums, err = extractEnums(src); err != nil {
				return nil, fmt.Errorf("load %s: %w", p, err)
			}
		}
	}
	if len(enums) == 0 {
		return nil, fmt.Errorf("load %s: no enums found in zz_generated.openapi.go", source)
	}

	var metaDefs map[string]any
	enumsApplied := 0
	for _, p := range paths {
		sm := k8sSpecName.FindStringSubmatch(filepath.Base(p))
		if sm == nil {
			continue // discovery, version, logs, ... documents
		}
		group, version := sm[2], sm[1]+sm[3]
		apiVersion := version
		if group != "" {
			apiVersion = group + "/" + version
		}
		raw, err := readJSON(p)
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", p, err)
		}
		comps, _ := dig(raw, "components", "schemas").(map[string]any)
		if comps == nil {
			continue
		}
		enumsApplied += applyEnums(comps, enums)

		defs := make(map[string]any, len(comps))
		for name, s := range comps {
			sm, ok := s.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("load %s: schema %s is %T", p, name, s)
			}
			conv, err := converter{}.schema(sm, true)
			if err != nil {
				return nil, fmt.Errorf("load %s: schema %s: %w", p, name, err)
			}
			defs[name] = conv
		}

		namespaced := namespacedKinds(raw)
		file := "k8s-" + group + "-" + version + ".json"
		if group == "" {
			file = "k8s-core-" + version + ".json"
		}
		var roots []string
		for _, name := range slices.Sorted(maps.Keys(comps)) {
			if strings.HasPrefix(name, "io.k8s.apimachinery.pkg.apis.meta.v1.") {
				continue // DeleteOptions, WatchEvent, Status: not resources
			}
			gvks, _ := comps[name].(map[string]any)["x-kubernetes-group-version-kind"].([]any)
			for _, x := range gvks {
				gvk, _ := x.(map[string]any)
				if gvk["group"] != group || gvk["version"] != version {
					continue
				}
				kind, _ := gvk["kind"].(string)
				key := apiVersion + " " + kind
				if _, dup := g.index.Kinds[key]; dup {
					return nil, fmt.Errorf("load %s: %s defined twice", p, key)
				}
				def := defName(apiVersion, kind)
				defs[def] = gvkWrapper(name, apiVersion, kind)
				roots = append(roots, def)
				entry := kindEntry{File: file, Def: def, Source: source}
				if ns, ok := namespaced[key]; ok {
					entry.Namespaced = &ns
				}
				g.index.Kinds[key] = entry
			}
		}
		if len(roots) == 0 {
			continue
		}
		keep, err := closure(defs, roots...)
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", p, err)
		}
		pruned := make(map[string]any, len(keep))
		for _, k := range keep {
			pruned[k] = defs[k]
		}
		rel, _ := filepath.Rel(moduleDir, p)
		g.docs[file] = map[string]any{
			"$schema":  draft2020,
			"$comment": "generated from " + source + " " + filepath.ToSlash(rel) + "; do not edit",
			"$defs":    pruned,
		}
		if group == "" {
			metaKeep, err := closure(defs, objectMetaDef)
			if err != nil {
				return nil, fmt.Errorf("load %s: %w", p, err)
			}
			metaDefs = make(map[string]any, len(metaKeep))
			for _, k := range metaKeep {
				metaDefs[k] = defs[k]
			}
		}
	}
	if enumsApplied == 0 {
		return nil, fmt.Errorf("load %s: none of the enums of zz_generated.openapi.go matched the OpenAPI documents", source)
	}
	return metaDefs, nil
}

// namespacedKinds derives the scope of each kind from the create (POST) paths:
// namespaced kinds are created under /namespaces/{namespace}/.
func namespacedKinds(spec map[string]any) map[string]bool {
	out := map[string]bool{}
	paths, _ := spec["paths"].(map[string]any)
	for _, p := range slices.Sorted(maps.Keys(paths)) {
		post, _ := dig(paths[p], "post").(map[string]any)
		if post == nil || post["x-kubernetes-action"] != "post" {
			continue
		}
		gvk, _ := post["x-kubernetes-group-version-kind"].(map[string]any)
		kind, _ := gvk["kind"].(string)
		group, _ := gvk["group"].(string)
		version, _ := gvk["version"].(string)
		if kind == "" || version == "" {
			continue
		}
		key := version + " " + kind
		if group != "" {
			key = group + "/" + key
		}
		ns := strings.Contains(p, "/namespaces/{namespace}/")
		if prev, ok := out[key]; ok {
			ns = ns && prev
		}
		out[key] = ns
	}
	return out
}

type sharedSource struct {
	source indexSource
	crds   []*convertedCRD
}

var sharedDirName = regexp.MustCompile(`^(.+)-(v[0-9]+\.[0-9]+\.[0-9]+.*)$`)

// readShared reads the CRDs of every versioned subdirectory of dir.
func readShared(dir string) ([]sharedSource, error) {
	readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		return nil, fmt.Errorf("load shared CRDs (pass -shared-crds DIR; expected %s): %w", sharedCRDsRef, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("load shared CRDs: %w", err)
	}
	var out []sharedSource
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		m := sharedDirName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("load shared CRDs: directory %s is not named NAME-vX.Y.Z", e.Name())
		}
		sub := filepath.Join(dir, e.Name())
		files, err := filepath.Glob(filepath.Join(sub, "*.yaml"))
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", sub, err)
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("load %s: no *.yaml files", sub)
		}
		sort.Strings(files)
		src := indexSource{
			Name:       e.Name(),
			Version:    m[2],
			Path:       path.Join(sharedCRDsRef, e.Name()),
			SHA256:     map[string]string{},
			Provenance: provenance(readme, e.Name()),
		}
		if src.Provenance == "" {
			return nil, fmt.Errorf("load shared CRDs: README.md says nothing about %s/", e.Name())
		}
		var crds []*convertedCRD
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("load %s: %w", f, err)
			}
			sum := sha256.Sum256(b)
			src.Files = append(src.Files, filepath.Base(f))
			src.SHA256[filepath.Base(f)] = hex.EncodeToString(sum[:])
			list, err := parseCRDs(b)
			if err != nil {
				return nil, fmt.Errorf("load %s: %w", f, err)
			}
			crds = append(crds, list...)
		}
		out = append(out, sharedSource{source: src, crds: crds})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("load shared CRDs: no subdirectories in %s", dir)
	}
	return out, nil
}

// provenance extracts the README bullet that describes `name/`.
func provenance(readme []byte, name string) string {
	var lines []string
	in := false
	sc := bufio.NewScanner(bytes.NewReader(readme))
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "- `"+name+"/`"):
			in = true
			lines = append(lines, strings.TrimPrefix(trimmed, "- "))
		case in && (trimmed == "" || strings.HasPrefix(trimmed, "- ")):
			in = false
		case in:
			lines = append(lines, trimmed)
		}
	}
	return strings.Join(lines, " ")
}

func readCRDs(p string) ([]*convertedCRD, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	list, err := parseCRDs(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(p), err)
	}
	return list, nil
}

// parseCRDs converts every CustomResourceDefinition in a multi-document YAML stream.
func parseCRDs(b []byte) ([]*convertedCRD, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var out []*convertedCRD
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("decode yaml: %w", err)
		}
		if doc == nil || doc["kind"] != "CustomResourceDefinition" {
			continue
		}
		c, err := convertCRD(doc)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func readJSON(p string) (map[string]any, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := json.NewDecoder(bufio.NewReader(f))
	dec.UseNumber()
	var out map[string]any
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}

// encodeJSON is deterministic minified JSON (encoding/json sorts map keys).
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeDirAtomic writes files into a fresh sibling directory and swaps it in, so a
// failure leaves the previous contents of dir untouched.
func writeDirAtomic(dir string, files map[string][]byte) error {
	dir = filepath.Clean(dir)
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("write %s: %w", dir, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".new-")
	if err != nil {
		return fmt.Errorf("write %s: %w", dir, err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("write %s: %w", dir, err)
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if err := os.WriteFile(filepath.Join(tmp, name), files[name], 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	old := tmp + ".old"
	hadOld := false
	if _, err := os.Stat(dir); err == nil {
		if err := os.Rename(dir, old); err != nil {
			return fmt.Errorf("write %s: %w", dir, err)
		}
		hadOld = true
	}
	if err := os.Rename(tmp, dir); err != nil {
		if hadOld {
			_ = os.Rename(old, dir)
		}
		return fmt.Errorf("write %s: %w", dir, err)
	}
	ok = true
	if hadOld {
		if err := os.RemoveAll(old); err != nil {
			return fmt.Errorf("write %s: remove previous data: %w", dir, err)
		}
	}
	return nil
}

// kubeconformFile is the file name kubeconform looks up with
// -schema-location 'DIR/{{ .ResourceKind }}{{ .KindSuffix }}.json': the lowercase
// kind, then "-" + the first label of the group (if any) + "-" + the version
// (see kubeconform pkg/registry schemaPath).
func kubeconformFile(apiVersion, kind string) string {
	suffix := "-" + strings.ToLower(apiVersion) // core group: "v1"
	if group, version, ok := strings.Cut(apiVersion, "/"); ok {
		first, _, _ := strings.Cut(group, ".")
		suffix = "-" + strings.ToLower(first) + "-" + strings.ToLower(version)
	}
	return strings.ToLower(kind) + suffix + ".json"
}

// writeKubeconform writes one standalone schema per kind (its $defs bundled, a
// top-level $ref) for kubeconform. Optional fields there also accept null, which
// Validate achieves by dropping null fields first (see normalize); kubeconform's
// own schemas do the same (openapi2jsonschema's allow_null_optional_fields).
func writeKubeconform(dir string, g *generated) error {
	type pick struct{ key, file string }
	byName := map[string]pick{}
	files := map[string][]byte{}
	for _, key := range slices.Sorted(maps.Keys(g.index.Kinds)) {
		e := g.index.Kinds[key]
		apiVersion, kind, _ := strings.Cut(key, " ")
		name := kubeconformFile(apiVersion, kind)
		if prev, ok := byName[name]; ok {
			return fmt.Errorf("kubeconform: %s and %s both map to %s", prev.key, key, name)
		}
		byName[name] = pick{key, e.File}
		doc := g.docs[e.File]
		defs, _ := doc["$defs"].(map[string]any)
		keep, err := closure(defs, e.Def)
		if err != nil {
			return fmt.Errorf("kubeconform %s: %w", key, err)
		}
		bundled := make(map[string]any, len(keep))
		for _, k := range keep {
			bundled[k] = nullOptional(defs[k])
		}
		b, err := encodeJSON(map[string]any{
			"$schema": draft2020,
			"$ref":    "#/$defs/" + e.Def,
			"$defs":   bundled,
		})
		if err != nil {
			return fmt.Errorf("kubeconform %s: %w", key, err)
		}
		files[name] = b
	}
	return writeDirAtomic(dir, files)
}

// nullOptional returns a copy of a schema in which every property that its object
// does not require also accepts null.
func nullOptional(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = nullOptional(x)
		}
		props, ok := out["properties"].(map[string]any)
		if !ok {
			return out
		}
		required := map[string]bool{}
		if req, ok := t["required"].([]any); ok {
			for _, r := range req {
				if s, ok := r.(string); ok {
					required[s] = true
				}
			}
		}
		for name, p := range props {
			pm, ok := p.(map[string]any)
			if !ok || required[name] {
				continue
			}
			if _, typed := pm["type"]; typed {
				addNull(pm)
			} else if ref, ok := pm["$ref"]; ok && len(pm) == 1 {
				props[name] = map[string]any{"anyOf": []any{map[string]any{"type": "null"}, map[string]any{"$ref": ref}}}
			}
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = nullOptional(x)
		}
		return out
	default:
		return v
	}
}
