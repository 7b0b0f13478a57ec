package values

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// SetScalar sets the string at p in a YAML document and returns the new document and the
// previous value ("" when the key was absent). Only the value's own characters change:
// comments, order, blank lines and indentation stay as they are. A missing key is inserted
// (with the missing mappings) as the first entry of the deepest mapping that exists, or at
// the end of the file for a top-level key. Flow collections, block scalars, anchors and
// multi-line scalars along p are refused rather than rewritten.
func SetScalar(data []byte, p Path, value string) ([]byte, string, error) {
	if len(p) == 0 {
		return nil, "", fmt.Errorf("empty values path")
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, "", err
	}
	lines := strings.SplitAfter(string(data), "\n")
	if len(doc.Content) == 0 || doc.Content[0].Tag == "!!null" {
		return appendKeys(data, p, 0, 2, value), "", nil
	}
	cur := doc.Content[0]
	var parentKey *yaml.Node // the key whose value is cur; nil for the top level
	for i, key := range p {
		if cur.Kind != yaml.MappingNode || cur.Style&yaml.FlowStyle != 0 {
			return nil, "", fmt.Errorf("%s: %s is not a block mapping (line %d); write it in block style", p, p[:i], cur.Line)
		}
		var k, v *yaml.Node
		for j := 0; j+1 < len(cur.Content); j += 2 {
			if cur.Content[j].Value == key {
				k, v = cur.Content[j], cur.Content[j+1]
				break
			}
		}
		step := 2
		if parentKey != nil && len(cur.Content) > 0 && cur.Content[0].Column > parentKey.Column {
			step = cur.Content[0].Column - parentKey.Column
		}
		if k == nil {
			if parentKey == nil {
				return appendKeys(data, p[i:], 0, step, value), "", nil
			}
			indent := cur.Content[0].Column - 1
			return insertAfter(lines, parentKey.Line, renderKeys(p[i:], indent, step, value)), "", nil
		}
		if v.Anchor != "" || v.Kind == yaml.AliasNode {
			return nil, "", fmt.Errorf("%s: %s uses an anchor or alias (line %d); edit it by hand", p, p[:i+1], v.Line)
		}
		if i == len(p)-1 {
			if v.Kind != yaml.ScalarNode || v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
				return nil, "", fmt.Errorf("%s is not a one-line scalar (line %d)", p, v.Line)
			}
			if v.Tag == "!!null" && v.Value == "" {
				return nil, "", fmt.Errorf("%s at line %d has no value; write it as \"\" first", p, k.Line)
			}
			out, err := replaceScalar(lines, v, value)
			return out, v.Value, err
		}
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" && v.Value == "" {
			// "key:" holding nothing yet: the rest goes below it.
			return insertAfter(lines, k.Line, renderKeys(p[i+1:], k.Column-1+step, step, value)), "", nil
		}
		parentKey, cur = k, v
	}
	return nil, "", fmt.Errorf("%s: not found", p)
}

func renderKeys(p Path, indent, step int, value string) string {
	var b strings.Builder
	for i, k := range p {
		b.WriteString(strings.Repeat(" ", indent+i*step) + k + ":")
		if i == len(p)-1 {
			b.WriteString(` "` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(value) + `"`)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func appendKeys(data []byte, p Path, indent, step int, value string) []byte {
	s := string(data)
	if s != "" && !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return []byte(s + renderKeys(p, indent, step, value))
}

func insertAfter(lines []string, line int, text string) []byte {
	if line > len(lines) {
		line = len(lines)
	}
	before := strings.Join(lines[:line], "")
	if before != "" && !strings.HasSuffix(before, "\n") {
		before += "\n"
	}
	return []byte(before + text + strings.Join(lines[line:], ""))
}

// replaceScalar swaps the characters of scalar v, keeping its quoting style.
func replaceScalar(lines []string, v *yaml.Node, value string) ([]byte, error) {
	if v.Line < 1 || v.Line > len(lines) {
		return nil, fmt.Errorf("line %d out of range", v.Line)
	}
	text := lines[v.Line-1]
	start := byteOffset(text, v.Column-1)
	end := -1
	switch {
	case v.Style&yaml.DoubleQuotedStyle != 0:
		for i := start + 1; i < len(text); i++ {
			if text[i] == '\\' {
				i++
				continue
			}
			if text[i] == '"' {
				end = i + 1
				break
			}
		}
	case v.Style&yaml.SingleQuotedStyle != 0:
		for i := start + 1; i < len(text); i++ {
			if text[i] == '\'' {
				if i+1 < len(text) && text[i+1] == '\'' {
					i++
					continue
				}
				end = i + 1
				break
			}
		}
	default:
		rest := strings.TrimRight(text[start:], "\r\n")
		if i := strings.Index(rest, " #"); i >= 0 {
			rest = rest[:i]
		}
		end = start + len(strings.TrimRight(rest, " \t"))
	}
	if end < 0 || start >= len(text) {
		return nil, fmt.Errorf("line %d: a scalar spanning lines cannot be edited in place", v.Line)
	}
	var repl string
	switch {
	case v.Style&yaml.DoubleQuotedStyle != 0:
		repl = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(value) + `"`
	case v.Style&yaml.SingleQuotedStyle != 0:
		repl = `'` + strings.ReplaceAll(value, `'`, `''`) + `'`
	default:
		repl = quote(value)
	}
	lines[v.Line-1] = text[:start] + repl + text[end:]
	return []byte(strings.Join(lines, "")), nil
}

// quote writes value plain when YAML reads it back as the same string, else double-quoted
// (a tag like 1.10 would otherwise become a number).
func quote(value string) string {
	var m map[string]any
	if value != "" && !strings.ContainsAny(value, "#:'\"{}[],&*!|>%@`") && yaml.Unmarshal([]byte("v: "+value), &m) == nil {
		if s, ok := m["v"].(string); ok && s == value {
			return value
		}
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(value) + `"`
}

// byteOffset converts a 0-based rune column to a byte offset in s.
func byteOffset(s string, col int) int {
	off := 0
	for i := 0; i < col && off < len(s); i++ {
		_, size := utf8.DecodeRuneInString(s[off:])
		off += size
	}
	return off
}
