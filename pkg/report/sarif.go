package report

import (
	"encoding/json"
	"io"
	"sort"
	"strings"
)

// SARIF 2.1.0 (https://docs.oasis-open.org/sarif/sarif/v2.1.0/), the subset GitHub code
// scanning reads: one run, the rules in tool.driver.rules, one result per finding located at
// the template (or values file) that produced it.

// SARIFSchema is the schema URI written in every log.
const SARIFSchema = "https://json.schemastore.org/sarif-2.1.0.json"

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name,omitempty"`
	ShortDescription     sarifText      `json:"shortDescription"`
	FullDescription      *sarifText     `json:"fullDescription,omitempty"`
	Help                 *sarifText     `json:"help,omitempty"`
	DefaultConfiguration sarifConfig    `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties,omitempty"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifResult struct {
	RuleID     string          `json:"ruleId"`
	RuleIndex  int             `json:"ruleIndex"`
	Level      string          `json:"level"`
	Message    sarifText       `json:"message"`
	Locations  []sarifLocation `json:"locations,omitempty"`
	Properties map[string]any  `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn,omitempty"`
}

type sarifLogical struct {
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind,omitempty"`
}

func sarifLevel(s Severity) string {
	switch s {
	case Error:
		return "error"
	case Warning:
		return "warning"
	default:
		return "note"
	}
}

// ruleID is the SARIF id of a finding's rule: the policy id ("H03" of "H03 read-only-rootfs"),
// or the stage's rule name ("schema", "template").
func ruleID(rule string) string {
	if id, _, ok := strings.Cut(rule, " "); ok {
		return id
	}
	if rule == "" {
		return "platform"
	}
	return rule
}

// SARIF prints the report as a SARIF 2.1.0 log.
func SARIF(w io.Writer, r *Report) error {
	driver := sarifDriver{Name: "platform", InformationURI: "https://github.com/microservices-manifests/microservices-manifests/blob/main/docs/policies.md"}
	index := map[string]int{}
	policyLevel := map[string]string{"CRITICAL": "error", "HIGH": "error", "MEDIUM": "warning", "LOW": "note"}
	for _, ri := range r.Rules {
		index[ri.ID] = len(driver.Rules)
		driver.Rules = append(driver.Rules, sarifRule{ID: ri.ID, Name: ri.Name,
			ShortDescription: sarifText{ri.Title}, FullDescription: &sarifText{ri.Description},
			Help:                 &sarifText{"Remediation: " + ri.Remediation + "\nSources: " + strings.Join(ri.Sources, "; ")},
			DefaultConfiguration: sarifConfig{Level: policyLevel[ri.Severity]},
			Properties:           map[string]any{"severity": ri.Severity, "tags": []string{"kubernetes", "policy"}}})
	}
	// Stage rules (schema, template, values, ...) seen in the findings, sorted.
	var extra []string
	for _, f := range r.Findings {
		id := ruleID(f.Rule)
		if _, ok := index[id]; !ok && !containsString(extra, id) {
			extra = append(extra, id)
		}
	}
	sort.Strings(extra)
	for _, id := range extra {
		index[id] = len(driver.Rules)
		driver.Rules = append(driver.Rules, sarifRule{ID: id, Name: id, ShortDescription: sarifText{"platform " + id + " check"},
			DefaultConfiguration: sarifConfig{Level: "error"}})
	}
	results := make([]sarifResult, 0, len(r.Findings))
	for _, f := range r.Findings {
		msg := f.Message
		if f.Path != "" {
			msg = f.Path + ": " + msg
		}
		if f.Object != "" {
			msg = f.Object + ": " + msg
		}
		if f.Chart != "" {
			msg = "[" + f.Env + "] " + msg
		}
		res := sarifResult{RuleID: ruleID(f.Rule), RuleIndex: index[ruleID(f.Rule)], Level: sarifLevel(f.Severity), Message: sarifText{msg}}
		var loc sarifLocation
		if f.File != "" {
			loc.PhysicalLocation = &sarifPhysical{ArtifactLocation: sarifArtifact{URI: f.File, URIBaseID: "%SRCROOT%"}}
			if f.Line > 0 {
				loc.PhysicalLocation.Region = &sarifRegion{StartLine: f.Line, StartColumn: f.Column}
			}
		}
		if f.Object != "" {
			loc.LogicalLocations = []sarifLogical{{FullyQualifiedName: f.Object, Kind: "resource"}}
		}
		if loc.PhysicalLocation != nil || loc.LogicalLocations != nil {
			res.Locations = []sarifLocation{loc}
		}
		props := map[string]any{}
		for k, v := range map[string]string{"chart": f.Chart, "environment": f.Env, "path": f.Path, "rule": f.Rule} {
			if v != "" {
				props[k] = v
			}
		}
		if len(props) > 0 {
			res.Properties = props
		}
		results = append(results, res)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: SARIFSchema, Version: "2.1.0", Runs: []sarifRun{{Tool: sarifTool{Driver: driver}, Results: results}}})
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
