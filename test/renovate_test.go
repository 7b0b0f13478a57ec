package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

type renovateConfig struct {
	CustomManagers []struct {
		Description         string   `json:"description"`
		ManagerFilePatterns []string `json:"managerFilePatterns"`
		MatchStrings        []string `json:"matchStrings"`
	} `json:"customManagers"`
}

// renovateMatches applies the renovate.json custom managers to the repository's files the
// way Renovate does (file pattern, then every match string) and returns the dependency
// names found, per manager description.
func renovateMatches(t *testing.T, cfg renovateConfig) map[string][]string {
	t.Helper()
	found := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") && rel != "." || d.Name() == "testdata" || rel == "release" || rel == "bin" {
				return filepath.SkipDir
			}
			return nil
		}
		for _, m := range cfg.CustomManagers {
			for _, fp := range m.ManagerFilePatterns {
				if !regexp.MustCompile(strings.Trim(fp, "/")).MatchString(rel) {
					continue
				}
				data, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				for _, ms := range m.MatchStrings {
					re := regexp.MustCompile(ms)
					for _, sub := range re.FindAllStringSubmatch(string(data), -1) {
						name := ""
						for _, group := range []string{"depName", "repository"} {
							if i := re.SubexpIndex(group); i >= 0 {
								name = sub[i]
							}
						}
						found[m.Description] = append(found[m.Description], rel+":"+name+"@"+sub[re.SubexpIndex("currentValue")])
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// TestRenovateSeesEveryPin: every official chart of the Applications (source: helm) and
// every third-party image of the charts is matched by a Renovate custom manager, so none
// silently stops being updated when its format drifts.
func TestRenovateSeesEveryPin(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root, "renovate.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg renovateConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	all := strings.Join(flatten(renovateMatches(t, cfg)), "\n")
	// What must be seen, counted independently of the regexes: `source: helm` entries and
	// third-party image repositories in the values files.
	helmEntry := regexp.MustCompile(`(?m)^\s+source: helm$`)
	// A registry with a repository (comments between) is an image pin; a registry alone
	// only names where a chart's own default image comes from.
	thirdParty := regexp.MustCompile(`(?m)^\s+registry: (docker\.io|ghcr\.io|quay\.io|registry\.k8s\.io)\n(\s+#.*\n)*\s+repository: `)
	wantHelm, wantImages := 0, 0
	for _, dir := range []string{"app", "infra", "deploy"} {
		_ = filepath.WalkDir(filepath.Join(root, dir), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasPrefix(d.Name(), "values") || !strings.HasSuffix(d.Name(), ".yaml") {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			wantHelm += len(helmEntry.FindAll(data, -1))
			wantImages += len(thirdParty.FindAll(data, -1))
			return nil
		})
	}
	gotHelm, gotImages := 0, 0
	for desc, deps := range renovateMatches(t, cfg) {
		switch {
		case strings.HasPrefix(desc, "Official charts"):
			gotHelm += len(deps)
		case strings.HasPrefix(desc, "Third-party images"):
			gotImages += len(deps)
		}
	}
	if wantHelm == 0 || gotHelm != wantHelm {
		t.Errorf("renovate sees %d official chart pins, the values files hold %d:\n%s", gotHelm, wantHelm, all)
	}
	if wantImages == 0 || gotImages != wantImages {
		t.Errorf("renovate sees %d third-party image pins, the values files hold %d:\n%s", gotImages, wantImages, all)
	}
}

func flatten(m map[string][]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v...)
	}
	return out
}

// TestRenovatePinsDigests: Renovate keeps the Dockerfile's base images pinned by digest
// (docker:pinDigests: tag and digest move together in one pull request) and the workflows'
// actions pinned by commit SHA (helpers:pinGitHubActionDigests), with the managers that
// read those files enabled; without it a digest pin would silently stop being updated.
func TestRenovatePinsDigests(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root, "renovate.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Extends         []string `json:"extends"`
		EnabledManagers []string `json:"enabledManagers"`
		PackageRules    []struct {
			MatchManagers []string `json:"matchManagers"`
			PinDigests    *bool    `json:"pinDigests"`
		} `json:"packageRules"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("renovate.json: %v", err)
	}
	has := func(list []string, s string) bool {
		for _, x := range list {
			if x == s {
				return true
			}
		}
		return false
	}
	for _, preset := range []string{"docker:pinDigests", "helpers:pinGitHubActionDigests"} {
		if !has(cfg.Extends, preset) {
			t.Errorf("renovate.json: extends %v lacks %s", cfg.Extends, preset)
		}
	}
	for _, m := range []string{"dockerfile", "github-actions"} {
		if !has(cfg.EnabledManagers, m) {
			t.Errorf("renovate.json: enabledManagers %v lacks %s", cfg.EnabledManagers, m)
		}
	}
	for _, r := range cfg.PackageRules {
		if r.PinDigests != nil && !*r.PinDigests && (len(r.MatchManagers) == 0 || has(r.MatchManagers, "dockerfile")) {
			t.Errorf("renovate.json: a package rule turns pinDigests off for the Dockerfile (matchManagers %v)", r.MatchManagers)
		}
	}
	// What the preset keeps must be there to keep: every FROM of the Dockerfile carries a
	// digest (pkg/action checks the exact form).
	dockerfile, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	from := regexp.MustCompile(`(?mi)^FROM\s+(?:--platform=\S+\s+)?(\S+)`)
	for _, m := range from.FindAllStringSubmatch(string(dockerfile), -1) {
		if !strings.Contains(m[1], "@sha256:") {
			t.Errorf("Dockerfile: FROM %s has no digest for Renovate to keep", m[1])
		}
	}
}
