package report

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestSARIFShape checks the log against the minimal SARIF 2.1.0 shape: version, $schema, one
// run with tool.driver.name and rules, and results whose ruleId/ruleIndex point at a rule,
// whose level is a SARIF level, and whose locations carry an artifact URI.
func TestSARIFShape(t *testing.T) {
	r := &Report{
		Rules: []RuleInfo{{ID: "H03", Name: "read-only-rootfs", Title: "H03 read-only-rootfs", Severity: "HIGH",
			Description: "d", Remediation: "r", Sources: []string{"NSA"}}},
		Findings: []Finding{
			{Severity: Error, Rule: "H03 read-only-rootfs", Chart: "app/order", Env: "prd", File: "app/order/templates/deployment.yaml",
				Object: "Deployment/microservices/order", Path: "spec.template.spec.containers[1].securityContext.readOnlyRootFilesystem", Message: "writable"},
			{Severity: Error, Rule: "schema", Chart: "app/order", Env: "dev", File: "app/order/templates/service.yaml", Line: 3, Message: "unknown field"},
			{Severity: Info, Rule: "exempt", Chart: "app/order", Env: "dev", Object: "Deployment/microservices/order", Message: "exempt"},
		},
	}
	var b bytes.Buffer
	if err := SARIF(&b, r); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Schema  string `json:"$schema"`
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
						ID               string `json:"id"`
						ShortDescription struct {
							Text string `json:"text"`
						} `json:"shortDescription"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Message   struct {
					Text string `json:"text"`
				} `json:"message"`
				Locations []struct {
					PhysicalLocation *struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
						Region *struct {
							StartLine int `json:"startLine"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || log.Schema != SARIFSchema || len(log.Runs) != 1 {
		t.Fatalf("not a SARIF 2.1.0 log with one run: %s", b.String())
	}
	run := log.Runs[0]
	if run.Tool.Driver.Name == "" || len(run.Tool.Driver.Rules) != 3 {
		t.Fatalf("driver: %+v", run.Tool.Driver)
	}
	if len(run.Results) != len(r.Findings) {
		t.Fatalf("%d results for %d findings", len(run.Results), len(r.Findings))
	}
	levels := map[string]bool{"error": true, "warning": true, "note": true, "none": true}
	for i, res := range run.Results {
		if res.RuleIndex < 0 || res.RuleIndex >= len(run.Tool.Driver.Rules) || run.Tool.Driver.Rules[res.RuleIndex].ID != res.RuleID {
			t.Errorf("result %d: ruleIndex %d does not point at rule %s", i, res.RuleIndex, res.RuleID)
		}
		if !levels[res.Level] || res.Message.Text == "" {
			t.Errorf("result %d: level %q, message %q", i, res.Level, res.Message.Text)
		}
		for _, l := range res.Locations {
			if l.PhysicalLocation != nil && l.PhysicalLocation.ArtifactLocation.URI == "" {
				t.Errorf("result %d: location without artifact URI", i)
			}
		}
	}
	if got := run.Results[0]; got.RuleID != "H03" || got.Locations[0].PhysicalLocation.ArtifactLocation.URI != "app/order/templates/deployment.yaml" {
		t.Errorf("policy result: %+v", got)
	}
	if got := run.Results[1]; got.Locations[0].PhysicalLocation.Region == nil || got.Locations[0].PhysicalLocation.Region.StartLine != 3 {
		t.Errorf("schema result has no line: %+v", got)
	}
	if _, err := Format("sarif"); err != nil {
		t.Error(err)
	}
}
