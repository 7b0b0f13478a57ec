package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/microservices-manifests/microservices-manifests/pkg/render"
)

// crdSchemas writes, into dir, a kubeconform schema for every served version of the CRDs
// that has none among the schemas in have: the custom resources of an official chart
// whose CRD only the chart ships. It returns the files written.
func crdSchemas(crds []*render.Object, have, dir string) ([]string, error) {
	var written []string
	for _, crd := range crds {
		spec, _ := crd.Body["spec"].(map[string]any)
		group, _ := spec["group"].(string)
		names, _ := spec["names"].(map[string]any)
		kind, _ := names["kind"].(string)
		versions, _ := spec["versions"].([]any)
		for _, v := range versions {
			ver, _ := v.(map[string]any)
			name, _ := ver["name"].(string)
			if served, _ := ver["served"].(bool); !served || kind == "" || name == "" {
				continue
			}
			apiVersion := group + "/" + name
			file := kubeconformFile(apiVersion, kind)
			if exists(filepath.Join(have, file)) || exists(filepath.Join(dir, file)) {
				continue
			}
			root, _ := ver["schema"].(map[string]any)
			root, _ = root["openAPIV3Schema"].(map[string]any)
			if root == nil {
				root = map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}
			}
			out := crdNode(root)
			props, _ := out["properties"].(map[string]any)
			if props == nil {
				props = map[string]any{}
				out["properties"] = props
			}
			// The API server fills these whatever the CRD's schema says.
			props["apiVersion"] = map[string]any{"type": "string", "enum": []any{apiVersion}}
			props["kind"] = map[string]any{"type": "string", "enum": []any{kind}}
			props["metadata"] = map[string]any{"type": "object"}
			if _, set := out["additionalProperties"]; !set && root["x-kubernetes-preserve-unknown-fields"] != true {
				out["additionalProperties"] = false
			}
			b, err := json.MarshalIndent(out, "", "  ")
			if err != nil {
				return nil, fmt.Errorf("schema of %s %s: %w", apiVersion, kind, err)
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, err
			}
			if err := os.WriteFile(filepath.Join(dir, file), b, 0o644); err != nil {
				return nil, err
			}
			written = append(written, file)
		}
	}
	return written, nil
}

// crdNode converts a CRD's structural OpenAPI v3 schema to the strict JSON schema
// kubeconform -strict expects, as kubeconform's openapi2jsonschema does: objects with
// properties admit no other key unless x-kubernetes-preserve-unknown-fields, optional
// properties also accept null, nullable adds null, int-or-string is either; the x-kubernetes
// extensions (CEL rules included) and formats, which neither side checks the same way,
// are dropped.
func crdNode(in map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range in {
		switch {
		case strings.HasPrefix(k, "x-kubernetes-"), k == "nullable", k == "format", k == "description":
		case k == "properties":
			props, _ := v.(map[string]any)
			required := map[string]bool{}
			req, _ := in["required"].([]any)
			for _, r := range req {
				if s, ok := r.(string); ok {
					required[s] = true
				}
			}
			conv := make(map[string]any, len(props))
			for name, p := range props {
				pm, _ := p.(map[string]any)
				c := crdNode(pm)
				if !required[name] {
					orNull(c)
				}
				conv[name] = c
			}
			out[k] = conv
		case k == "items" || k == "additionalProperties" || k == "not":
			if m, ok := v.(map[string]any); ok {
				out[k] = crdNode(m)
			} else {
				out[k] = v
			}
		case k == "allOf" || k == "anyOf" || k == "oneOf":
			list, _ := v.([]any)
			conv := make([]any, 0, len(list))
			for _, x := range list {
				m, _ := x.(map[string]any)
				conv = append(conv, crdNode(m))
			}
			out[k] = conv
		default:
			out[k] = v
		}
	}
	if in["x-kubernetes-int-or-string"] == true {
		delete(out, "type")
		out["anyOf"] = []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}
	}
	if in["nullable"] == true {
		orNull(out)
	}
	_, hasProps := in["properties"]
	_, hasAdditional := in["additionalProperties"]
	if hasProps && !hasAdditional && in["x-kubernetes-preserve-unknown-fields"] != true {
		out["additionalProperties"] = false
	}
	return out
}

// orNull makes a converted schema also accept null.
func orNull(s map[string]any) {
	switch t := s["type"].(type) {
	case string:
		s["type"] = []any{t, "null"}
	case nil:
		if alt, ok := s["anyOf"].([]any); ok {
			s["anyOf"] = append(alt, map[string]any{"type": "null"})
		}
	}
	if e, ok := s["enum"].([]any); ok {
		s["enum"] = append(e, nil)
	}
}

func exists(file string) bool {
	_, err := os.Stat(file)
	return err == nil
}
