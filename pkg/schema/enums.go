package schema

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
)

// enumAt is the list of allowed values of one field of a Kubernetes definition,
// located by a JSON-schema-like path below the definition ("properties", name,
// "items", "additionalProperties").
type enumAt struct {
	Path   []string
	Values []any
}

// extractEnums reads kube-openapi's generated Go definitions
// (k8s.io/kubernetes pkg/generated/openapi/zz_generated.openapi.go) and returns the
// enum constraints per OpenAPI model name ("io.k8s.api.core.v1.Container").
//
// The published api/openapi-spec JSON drops these enums (they only survive in the
// descriptions of the Go source), but the API server enforces them, e.g.
// imagePullPolicy must be one of Always, IfNotPresent, Never.
func extractEnums(src []byte) (map[string][]enumAt, error) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "zz_generated.openapi.go", src, parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("parse generated openapi: %w", err)
	}
	imports := map[string]string{}
	for _, imp := range file.Imports {
		path, err := strconv.Unquote(imp.Path.Value)
		if err != nil {
			return nil, fmt.Errorf("import %s: %w", imp.Path.Value, err)
		}
		alias := path[strings.LastIndex(path, "/")+1:]
		if imp.Name != nil {
			alias = imp.Name.Name
		}
		imports[alias] = path
	}

	funcs := map[string]*ast.FuncDecl{}
	var defsFunc *ast.FuncDecl
	for _, d := range file.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok {
			continue
		}
		funcs[fd.Name.Name] = fd
		if fd.Name.Name == "GetOpenAPIDefinitions" {
			defsFunc = fd
		}
	}
	if defsFunc == nil {
		return nil, fmt.Errorf("generated openapi: no GetOpenAPIDefinitions")
	}

	// GetOpenAPIDefinitions returns map[string]common.OpenAPIDefinition{
	//     corev1.Container{}.OpenAPIModelName(): schema_k8sio_api_core_v1_Container(ref), ...}
	models := map[string]string{} // func name -> model name
	ast.Inspect(defsFunc, func(n ast.Node) bool {
		kv, ok := n.(*ast.KeyValueExpr)
		if !ok {
			return true
		}
		model := modelName(kv.Key, imports)
		call, ok := kv.Value.(*ast.CallExpr)
		if model == "" || !ok {
			return true
		}
		if id, ok := call.Fun.(*ast.Ident); ok {
			models[id.Name] = model
		}
		return false
	})
	if len(models) == 0 {
		return nil, fmt.Errorf("generated openapi: no definitions found in GetOpenAPIDefinitions")
	}

	out := map[string][]enumAt{}
	for fn, model := range models {
		fd, ok := funcs[fn]
		if !ok || fd.Body == nil {
			continue
		}
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			kv, ok := n.(*ast.KeyValueExpr)
			if !ok || keyName(kv.Key) != "Schema" {
				return true
			}
			if lit := compositeLit(kv.Value); lit != nil {
				walkSchemaLit(lit, nil, func(path []string, values []any) {
					out[model] = append(out[model], enumAt{Path: path, Values: values})
				})
			}
			return false
		})
	}
	return out, nil
}

// modelName resolves `alias.Type{}.OpenAPIModelName()` to "io.k8s.api.core.v1.Type".
func modelName(key ast.Expr, imports map[string]string) string {
	call, ok := key.(*ast.CallExpr)
	if !ok {
		return ""
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "OpenAPIModelName" {
		return ""
	}
	lit, ok := sel.X.(*ast.CompositeLit)
	if !ok {
		return ""
	}
	typ, ok := lit.Type.(*ast.SelectorExpr)
	if !ok {
		return ""
	}
	pkg, ok := typ.X.(*ast.Ident)
	if !ok {
		return ""
	}
	path, ok := imports[pkg.Name]
	if !ok {
		return ""
	}
	return restFriendlyPackage(path) + "." + typ.Sel.Name
}

// restFriendlyPackage maps a Go import path to the OpenAPI name prefix used by
// kube-openapi: "k8s.io/api/core/v1" -> "io.k8s.api.core.v1".
func restFriendlyPackage(path string) string {
	host, rest, _ := strings.Cut(path, "/")
	parts := strings.Split(host, ".")
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	name := strings.Join(parts, ".")
	if rest != "" {
		name += "." + strings.ReplaceAll(rest, "/", ".")
	}
	return name
}

func keyName(e ast.Expr) string {
	if id, ok := e.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

// compositeLit unwraps &T{...} and T{...}.
func compositeLit(e ast.Expr) *ast.CompositeLit {
	if u, ok := e.(*ast.UnaryExpr); ok && u.Op == token.AND {
		e = u.X
	}
	lit, _ := e.(*ast.CompositeLit)
	return lit
}

// walkSchemaLit walks a spec.Schema literal and reports every Enum with its path.
func walkSchemaLit(lit *ast.CompositeLit, path []string, report func([]string, []any)) {
	for _, el := range lit.Elts {
		kv, ok := el.(*ast.KeyValueExpr)
		if !ok || keyName(kv.Key) != "SchemaProps" {
			continue
		}
		props := compositeLit(kv.Value)
		if props == nil {
			continue
		}
		for _, pel := range props.Elts {
			pkv, ok := pel.(*ast.KeyValueExpr)
			if !ok {
				continue
			}
			switch keyName(pkv.Key) {
			case "Enum":
				if values := enumValues(pkv.Value); len(values) > 0 {
					report(append([]string(nil), path...), values)
				}
			case "Properties":
				m := compositeLit(pkv.Value)
				if m == nil {
					continue
				}
				for _, mel := range m.Elts {
					mkv, ok := mel.(*ast.KeyValueExpr)
					if !ok {
						continue
					}
					bl, ok := mkv.Key.(*ast.BasicLit)
					if !ok || bl.Kind != token.STRING {
						continue
					}
					name, err := strconv.Unquote(bl.Value)
					if err != nil {
						continue
					}
					if sub := compositeLit(mkv.Value); sub != nil {
						walkSchemaLit(sub, append(append([]string(nil), path...), "properties", name), report)
					}
				}
			case "Items", "AdditionalProperties":
				holder := compositeLit(pkv.Value) // SchemaOrArray / SchemaOrBool
				if holder == nil {
					continue
				}
				seg := "items"
				if keyName(pkv.Key) == "AdditionalProperties" {
					seg = "additionalProperties"
				}
				for _, hel := range holder.Elts {
					hkv, ok := hel.(*ast.KeyValueExpr)
					if !ok || keyName(hkv.Key) != "Schema" {
						continue
					}
					if sub := compositeLit(hkv.Value); sub != nil {
						walkSchemaLit(sub, append(append([]string(nil), path...), seg), report)
					}
				}
			}
		}
	}
}

// enumValues reads []interface{}{"a", "b"}.
func enumValues(e ast.Expr) []any {
	lit := compositeLit(e)
	if lit == nil {
		return nil
	}
	var out []any
	for _, el := range lit.Elts {
		bl, ok := el.(*ast.BasicLit)
		if !ok {
			return nil
		}
		switch bl.Kind {
		case token.STRING:
			s, err := strconv.Unquote(bl.Value)
			if err != nil {
				return nil
			}
			out = append(out, s)
		case token.INT:
			n, err := strconv.ParseInt(bl.Value, 0, 64)
			if err != nil {
				return nil
			}
			out = append(out, n)
		default:
			return nil
		}
	}
	return out
}

// applyEnums sets the enums onto raw OpenAPI component schemas (before conversion).
// It returns how many fields received an enum.
func applyEnums(components map[string]any, enums map[string][]enumAt) int {
	applied := 0
	for name, list := range enums {
		def, ok := components[name].(map[string]any)
		if !ok {
			continue
		}
		for _, e := range list {
			node := def
			for _, seg := range e.Path {
				next, ok := node[seg].(map[string]any)
				if !ok {
					node = nil
					break
				}
				node = next
			}
			if node == nil || node["$ref"] != nil || node["allOf"] != nil {
				continue
			}
			node["enum"] = append([]any(nil), e.Values...)
			applied++
		}
	}
	return applied
}
