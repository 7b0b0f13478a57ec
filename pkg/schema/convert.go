package schema

import (
	"fmt"
	"sort"
	"strings"
)

// draft2020 is the JSON Schema dialect of every generated document.
const draft2020 = "https://json-schema.org/draft/2020-12/schema"

// objectMetaDef is the $defs name of the Kubernetes ObjectMeta schema. CRD documents
// carry a copy of it (and what it references) so that each file is self-contained.
const objectMetaDef = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

// converter turns OpenAPI v3 schemas (Kubernetes components or CRD openAPIV3Schema)
// into strict JSON Schema draft 2020-12:
//   - every object schema with properties and no additionalProperties gets
//     additionalProperties: false, unless x-kubernetes-preserve-unknown-fields is true;
//   - x-kubernetes-int-or-string / format int-or-string become type [integer, string];
//   - nullable: true also allows null;
//   - x-kubernetes-embedded-resource: true allows apiVersion, kind and metadata;
//   - descriptions, defaults, formats, examples and other annotations are dropped;
//   - refs "#/components/schemas/X" become "#/$defs/X".
//
// Inside allOf/anyOf/oneOf/not no additionalProperties is added: those are value
// validations (for example "exactly one of these fields"), not the structural schema.
type converter struct{}

// keptKeywords are copied unchanged: they are what the API server validates.
func keptKeywords(k string) bool {
	switch k {
	case "required", "pattern", "minLength", "maxLength", "minItems", "maxItems",
		"minProperties", "maxProperties", "multipleOf", "uniqueItems", "const":
		return true
	}
	return false
}

// schema converts one schema node. structural is false inside boolean combinators.
func (c converter) schema(in map[string]any, structural bool) (map[string]any, error) {
	out := make(map[string]any, len(in))
	preserve := in["x-kubernetes-preserve-unknown-fields"] == true
	intOrString := in["x-kubernetes-int-or-string"] == true || in["format"] == "int-or-string"
	nullable := in["nullable"] == true
	embedded := in["x-kubernetes-embedded-resource"] == true

	for k, v := range in {
		switch {
		case k == "$ref":
			ref, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("$ref is %T, want string", v)
			}
			out["$ref"] = rewriteRef(ref)
		case k == "type":
			out["type"] = v
		case k == "enum":
			list, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("enum is %T, want list", v)
			}
			out["enum"] = append([]any(nil), list...)
		case keptKeywords(k):
			out[k] = v
		case k == "minimum" || k == "maximum":
			out[k] = v
		case k == "exclusiveMinimum" || k == "exclusiveMaximum":
			// OpenAPI 3.0: a boolean modifying minimum/maximum (handled below);
			// 2020-12: a number.
			if _, isBool := v.(bool); !isBool {
				out[k] = v
			}
		case k == "properties":
			props, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("properties is %T, want object", v)
			}
			conv := make(map[string]any, len(props))
			for name, p := range props {
				pm, ok := p.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("properties.%s is %T, want object", name, p)
				}
				cp, err := c.schema(pm, structural)
				if err != nil {
					return nil, fmt.Errorf("properties.%s: %w", name, err)
				}
				conv[name] = cp
			}
			out["properties"] = conv
		case k == "additionalProperties" || k == "items":
			switch t := v.(type) {
			case bool:
				out[k] = t
			case map[string]any:
				cp, err := c.schema(t, structural)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", k, err)
				}
				out[k] = cp
			default:
				return nil, fmt.Errorf("%s is %T, want object or boolean", k, v)
			}
		case k == "allOf" || k == "anyOf" || k == "oneOf":
			list, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("%s is %T, want list", k, v)
			}
			conv := make([]any, 0, len(list))
			for i, item := range list {
				im, ok := item.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("%s[%d] is %T, want object", k, i, item)
				}
				ci, err := c.schema(im, false)
				if err != nil {
					return nil, fmt.Errorf("%s[%d]: %w", k, i, err)
				}
				conv = append(conv, ci)
			}
			out[k] = conv
		case k == "not":
			m, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("not is %T, want object", v)
			}
			cn, err := c.schema(m, false)
			if err != nil {
				return nil, fmt.Errorf("not: %w", err)
			}
			out["not"] = cn
		}
		// everything else (description, default, format, example, title, x-*) is dropped
	}

	for excl, bound := range map[string]string{"exclusiveMinimum": "minimum", "exclusiveMaximum": "maximum"} {
		if in[excl] == true {
			if n, ok := in[bound]; ok {
				out[excl] = n
				delete(out, bound)
			}
		}
	}

	simplifyAllOfRef(out)
	simplifyTypeUnion(out, "anyOf")
	simplifyTypeUnion(out, "oneOf")

	if intOrString {
		out["type"] = []any{"integer", "string"}
		for _, k := range []string{"anyOf", "oneOf"} {
			if list, ok := out[k].([]any); ok && onlyTypeBranches(list) {
				delete(out, k)
			}
		}
	}

	if embedded {
		props, _ := out["properties"].(map[string]any)
		if props == nil {
			props = map[string]any{}
		}
		if _, ok := props["apiVersion"]; !ok {
			props["apiVersion"] = map[string]any{"type": "string"}
		}
		if _, ok := props["kind"]; !ok {
			props["kind"] = map[string]any{"type": "string"}
		}
		if _, ok := props["metadata"]; !ok || isBareObject(props["metadata"]) {
			props["metadata"] = map[string]any{"$ref": "#/$defs/" + objectMetaDef}
		}
		out["properties"] = props
	}

	if structural && !preserve {
		if _, hasProps := out["properties"]; hasProps {
			if _, hasAdd := out["additionalProperties"]; !hasAdd {
				out["additionalProperties"] = false
			}
		}
	}

	if nullable {
		addNull(out)
	}
	return out, nil
}

// rewriteRef maps OpenAPI component refs to $defs refs.
func rewriteRef(ref string) string {
	if rest, ok := strings.CutPrefix(ref, "#/components/schemas/"); ok {
		return "#/$defs/" + rest
	}
	if rest, ok := strings.CutPrefix(ref, "#/definitions/"); ok {
		return "#/$defs/" + rest
	}
	return ref
}

// simplifyAllOfRef turns {allOf: [{$ref: X}]} (how OpenAPI v3 attaches siblings to
// a ref) into {$ref: X}.
func simplifyAllOfRef(out map[string]any) {
	list, ok := out["allOf"].([]any)
	if !ok || len(list) != 1 {
		return
	}
	only, ok := list[0].(map[string]any)
	if !ok || len(only) != 1 {
		return
	}
	ref, ok := only["$ref"]
	if !ok {
		return
	}
	if _, taken := out["$ref"]; taken {
		return
	}
	out["$ref"] = ref
	delete(out, "allOf")
}

// onlyTypeBranches reports whether every branch is exactly {type: T}.
func onlyTypeBranches(list []any) bool {
	for _, b := range list {
		m, ok := b.(map[string]any)
		if !ok || len(m) != 1 {
			return false
		}
		if _, ok := m["type"].(string); !ok {
			return false
		}
	}
	return len(list) > 0
}

// simplifyTypeUnion turns {anyOf: [{type: a}, {type: b}]} into {type: [a, b]}, which
// validates the same and gives one clear error message instead of several.
func simplifyTypeUnion(out map[string]any, key string) {
	list, ok := out[key].([]any)
	if !ok || !onlyTypeBranches(list) {
		return
	}
	if _, taken := out["type"]; taken {
		return
	}
	types := make([]any, 0, len(list))
	seen := map[string]bool{}
	for _, b := range list {
		t := b.(map[string]any)["type"].(string)
		if !seen[t] {
			seen[t] = true
			types = append(types, t)
		}
	}
	out["type"] = types
	delete(out, key)
}

func isBareObject(v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	for k := range m {
		if k != "type" {
			return false
		}
	}
	return true
}

// addNull makes a schema also accept null.
func addNull(out map[string]any) {
	switch t := out["type"].(type) {
	case string:
		out["type"] = []any{t, "null"}
	case []any:
		for _, x := range t {
			if x == "null" {
				return
			}
		}
		out["type"] = append(append([]any(nil), t...), "null")
	}
	if e, ok := out["enum"].([]any); ok {
		for _, x := range e {
			if x == nil {
				return
			}
		}
		out["enum"] = append(e, nil)
	}
}

// refsOf collects the $defs names referenced anywhere inside v.
func refsOf(v any, into map[string]bool) {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if k == "$ref" {
				if s, ok := x.(string); ok {
					if name, ok := strings.CutPrefix(s, "#/$defs/"); ok {
						into[name] = true
					}
				}
				continue
			}
			refsOf(x, into)
		}
	case []any:
		for _, x := range t {
			refsOf(x, into)
		}
	}
}

// closure returns the names of roots and all definitions they reach in defs, sorted.
func closure(defs map[string]any, roots ...string) ([]string, error) {
	seen := map[string]bool{}
	queue := append([]string(nil), roots...)
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if seen[name] {
			continue
		}
		def, ok := defs[name]
		if !ok {
			return nil, fmt.Errorf("unresolved reference to %q", name)
		}
		seen[name] = true
		refs := map[string]bool{}
		refsOf(def, refs)
		for r := range refs {
			if !seen[r] {
				queue = append(queue, r)
			}
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// crdVersion is one served version of a CustomResourceDefinition, converted.
type crdVersion struct {
	APIVersion string
	Kind       string
	Def        string
	Schema     map[string]any
}

// convertedCRD is a CustomResourceDefinition turned into one JSON Schema document.
type convertedCRD struct {
	Name       string // metadata.name, e.g. virtualservices.networking.istio.io
	Namespaced bool
	Versions   []crdVersion
}

// convertCRD converts the served versions of a CRD object; each version's root
// pins apiVersion and kind and validates metadata as ObjectMeta (see crdDocument).
func convertCRD(crd map[string]any) (*convertedCRD, error) {
	name, _ := dig(crd, "metadata", "name").(string)
	spec, ok := crd["spec"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("crd %q: no spec", name)
	}
	group, _ := spec["group"].(string)
	kind, _ := dig(spec, "names", "kind").(string)
	if group == "" || kind == "" {
		return nil, fmt.Errorf("crd %q: spec.group and spec.names.kind are required", name)
	}
	if name == "" {
		plural, _ := dig(spec, "names", "plural").(string)
		name = plural + "." + group
	}
	scope, _ := spec["scope"].(string)
	out := &convertedCRD{Name: name, Namespaced: scope != "Cluster"}
	versions, _ := spec["versions"].([]any)
	for i, v := range versions {
		vm, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("crd %q: spec.versions[%d] is %T", name, i, v)
		}
		if served, ok := vm["served"].(bool); ok && !served {
			continue
		}
		vname, _ := vm["name"].(string)
		if vname == "" {
			return nil, fmt.Errorf("crd %q: spec.versions[%d] has no name", name, i)
		}
		raw, _ := dig(vm, "schema", "openAPIV3Schema").(map[string]any)
		if raw == nil {
			// legacy single schema for all versions
			raw, _ = dig(spec, "validation", "openAPIV3Schema").(map[string]any)
		}
		if raw == nil {
			raw = map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}
		}
		conv, err := converter{}.schema(raw, true)
		if err != nil {
			return nil, fmt.Errorf("crd %q version %s: %w", name, vname, err)
		}
		apiVersion := group + "/" + vname
		constrainRoot(conv, apiVersion, kind)
		out.Versions = append(out.Versions, crdVersion{
			APIVersion: apiVersion,
			Kind:       kind,
			Def:        defName(apiVersion, kind),
			Schema:     conv,
		})
	}
	if len(out.Versions) == 0 {
		return nil, fmt.Errorf("crd %q: no served versions", name)
	}
	return out, nil
}

// constrainRoot pins apiVersion and kind of a CRD root schema and validates metadata
// like ObjectMeta, as the API server does.
func constrainRoot(root map[string]any, apiVersion, kind string) {
	props, _ := root["properties"].(map[string]any)
	if props == nil {
		props = map[string]any{}
		root["properties"] = props
	}
	props["apiVersion"] = map[string]any{"type": "string", "const": apiVersion}
	props["kind"] = map[string]any{"type": "string", "const": kind}
	props["metadata"] = map[string]any{"$ref": "#/$defs/" + objectMetaDef}
	req, _ := root["required"].([]any)
	have := map[any]bool{}
	for _, r := range req {
		have[r] = true
	}
	for _, r := range []string{"apiVersion", "kind"} {
		if !have[r] {
			req = append(req, r)
		}
	}
	root["required"] = req
	root["type"] = "object"
	if _, ok := root["additionalProperties"]; !ok && root["x-kubernetes-preserve-unknown-fields"] != true {
		root["additionalProperties"] = false
	}
}

// gvkWrapper pins apiVersion and kind on top of a built-in definition.
func gvkWrapper(target, apiVersion, kind string) map[string]any {
	return map[string]any{
		"$ref": "#/$defs/" + target,
		"properties": map[string]any{
			"apiVersion": map[string]any{"const": apiVersion},
			"kind":       map[string]any{"const": kind},
		},
		"required": []any{"apiVersion", "kind"},
	}
}

// defName is the $defs entry that validates apiVersion+kind, in kubectl's
// resource.version.group notation: "Deployment.v1.apps", "Pod.v1".
func defName(apiVersion, kind string) string {
	group, version, ok := strings.Cut(apiVersion, "/")
	if !ok {
		return kind + "." + apiVersion
	}
	return kind + "." + version + "." + group
}

func dig(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// crdDocument assembles the JSON Schema document of a converted CRD, embedding the
// ObjectMeta closure from metaDefs.
func crdDocument(c *convertedCRD, metaDefs map[string]any, comment string) map[string]any {
	defs := make(map[string]any, len(metaDefs)+len(c.Versions))
	for k, v := range metaDefs {
		defs[k] = v
	}
	for _, v := range c.Versions {
		defs[v.Def] = v.Schema
	}
	doc := map[string]any{"$schema": draft2020, "$defs": defs}
	if comment != "" {
		doc["$comment"] = comment
	}
	return doc
}
