package render

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"go.yaml.in/yaml/v3"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"helm.sh/helm/v3/pkg/chartutil"

	"github.com/microservices-manifests/microservices-manifests/pkg/discovery"
	"github.com/microservices-manifests/microservices-manifests/pkg/repofs"
	"github.com/microservices-manifests/microservices-manifests/pkg/report"
)

// readValues reads an environment's values file (rel, relative to root): first strictly
// with yaml.v3, which locates syntax errors and duplicate keys by line, then the way Helm
// reads it.
func readValues(root, rel string) (chartutil.Values, *report.Finding) {
	if f := CheckYAML(root, rel); f != nil {
		return nil, f
	}
	data, err := repofs.ReadFile(root, rel)
	if err != nil {
		return nil, readFinding(err, rel)
	}
	vals, err := chartutil.ReadValues(data)
	if err != nil {
		return nil, &report.Finding{Rule: "values", File: rel, Message: err.Error()}
	}
	return vals, nil
}

// CheckYAML reports a syntax error, a duplicate key or a non-mapping document in the values
// file rel (relative to root), with its line, and a file repofs refuses to read. A missing
// file is not an error here.
func CheckYAML(root, rel string) *report.Finding {
	data, err := repofs.ReadFile(root, rel)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return readFinding(err, rel)
	}
	var node yaml.Node
	if err := yaml.Unmarshal(data, &node); err != nil {
		f := yamlFinding(err)
		f.Rule, f.File = "values", rel
		return &f
	}
	if len(node.Content) == 0 {
		return nil
	}
	if root := node.Content[0]; root.Kind != yaml.MappingNode && root.Tag != "!!null" {
		return &report.Finding{Rule: "values", File: rel, Line: root.Line, Message: "values must be a mapping"}
	}
	var m map[string]any
	if err := node.Decode(&m); err != nil {
		f := yamlFinding(err)
		f.Rule, f.File = "values", rel
		return &f
	}
	return nil
}

// readFinding is the finding of a values file that could not be read.
func readFinding(err error, rel string) *report.Finding {
	if f, ok := refused(err); ok {
		return &f
	}
	return &report.Finding{Rule: "values", File: rel, Message: err.Error()}
}

var yamlLine = regexp.MustCompile(`line (\d+): (.*)`)

// yamlFinding extracts the line from a yaml.v3 error ("yaml: line 3: mapping values are
// not allowed in this context", "mapping key \"a\" already defined at line 2").
func yamlFinding(err error) report.Finding {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n  ")
	f := report.Finding{Message: msg}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		f.Line, _ = strconv.Atoi(m[1])
		f.Message = m[2]
		// yaml.v3 adds one to scanner error marks only; parser errors ("did not find
		// expected ...") carry the 0-based line of the construct that was left open.
		if strings.HasPrefix(f.Message, "did not find expected") {
			f.Line++
		}
	}
	return f
}

// valuesSchemaFindings turns a failed values.schema.json check into one finding per
// violation, located at the key in the environment's values file (or in values.yaml when
// the key comes from the defaults).
func valuesSchemaFindings(renderErr error, root string, c discovery.Chart, valuesPath string) []report.Finding {
	data, err := repofs.ReadFile(root, c.ID+"/values.schema.json")
	if err != nil {
		return []report.Finding{{Rule: "values-schema", File: valuesPath, Message: renderErr.Error()}}
	}
	vals, f := mergedValues(root, c, valuesPath)
	if f != nil {
		return []report.Finding{*f}
	}
	violations, err := validateJSONSchema(data, vals)
	if err != nil {
		return []report.Finding{{Rule: "values-schema", File: c.ID + "/values.schema.json", Message: err.Error()}}
	}
	if len(violations) == 0 { // a dependency's schema failed: Helm's message says which
		return []report.Finding{{Rule: "values-schema", File: valuesPath, Message: strings.TrimSpace(renderErr.Error())}}
	}
	var out []report.Finding
	for _, v := range violations {
		file, line := valuesPath, lineOf(root, valuesPath, v.path)
		if line == 0 {
			if l := lineOf(root, c.ID+"/values.yaml", v.path); l > 0 {
				file, line = c.ID+"/values.yaml", l
			}
		}
		out = append(out, report.Finding{Rule: "values-schema", File: file, Line: line,
			Path: dotted(v.path), Message: v.message + " (values.schema.json)"})
	}
	return out
}

// mergedValues is what Helm validates: the chart's defaults coalesced with the environment.
func mergedValues(root string, c discovery.Chart, valuesPath string) (map[string]any, *report.Finding) {
	vals, f := readValues(root, valuesPath)
	if f != nil {
		return nil, f
	}
	defaults, f := readValues(root, c.ID+"/values.yaml")
	if f != nil {
		return nil, f
	}
	return chartutil.CoalesceTables(vals, defaults), nil
}

type violation struct {
	path    []string
	message string
}

// validateJSONSchema validates values with the same library Helm uses, keeping each leaf
// error with its location instead of Helm's flattened text.
func validateJSONSchema(schemaJSON []byte, vals map[string]any) ([]violation, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		return nil, err
	}
	// Values go through a JSON round trip so numbers have the types the validator expects.
	inst, err := jsonRoundTrip(vals)
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("file:///values.schema.json", doc); err != nil {
		return nil, err
	}
	sch, err := c.Compile("file:///values.schema.json")
	if err != nil {
		return nil, err
	}
	var verr *jsonschema.ValidationError
	if err := sch.Validate(inst); !errors.As(err, &verr) {
		return nil, err
	}
	p := message.NewPrinter(language.English)
	var out []violation
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			// An unknown key is reported at the key, not at the mapping holding it.
			if ap, ok := e.ErrorKind.(*kind.AdditionalProperties); ok {
				for _, prop := range ap.Properties {
					out = append(out, violation{path: append(slices.Clone(e.InstanceLocation), prop),
						message: fmt.Sprintf("unknown key %q", prop)})
				}
				return
			}
			out = append(out, violation{path: e.InstanceLocation, message: e.ErrorKind.LocalizedString(p)})
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(verr)
	return out, nil
}

func jsonRoundTrip(v any) (any, error) {
	var buf bytes.Buffer
	if err := jsonEncode(&buf, v); err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(&buf)
}

// lineOf finds the line of the key at path in the YAML file rel; 0 when absent.
func lineOf(root, rel string, path []string) int {
	data, err := repofs.ReadFile(root, rel)
	if err != nil {
		return 0
	}
	var node yaml.Node
	if yaml.Unmarshal(data, &node) != nil || len(node.Content) == 0 {
		return 0
	}
	n, line := node.Content[0], 0
	for _, key := range path {
		switch n.Kind {
		case yaml.MappingNode:
			found := false
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == key {
					line, n, found = n.Content[i].Line, n.Content[i+1], true
					break
				}
			}
			if !found {
				return line
			}
		case yaml.SequenceNode:
			i, err := strconv.Atoi(key)
			if err != nil || i >= len(n.Content) {
				return line
			}
			n = n.Content[i]
			line = n.Line
		default:
			return line
		}
	}
	return line
}

// dotted renders a JSON pointer's segments kubectl style: a.b[0].c.
func dotted(path []string) string {
	var b strings.Builder
	for _, p := range path {
		if _, err := strconv.Atoi(p); err == nil {
			fmt.Fprintf(&b, "[%s]", p)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}
