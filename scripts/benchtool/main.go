// Command benchtool holds the small helpers of scripts/bench.sh that are awkward in shell.
//
//	benchtool measure OUT -- CMD [ARG...]   run CMD; append "WALL_SECONDS MAXRSS_KIB EXIT" to OUT
//	benchtool apiversions INDEX             print the capabilities platform advertises, comma-separated
//	benchtool compare PLATFORM.json PAIRS   compare platform's findings with kubeconform's
//	benchtool official ROOT CHARTS SCHEMAS OUT
//	                                        write the inputs of the official charts' pipeline
//
// measure reads the child's resource usage from wait4(2) (os.ProcessState.SysUsage): its
// ru_maxrss is the peak resident set of the largest process in the child's tree (the
// child and every descendant it waited for), which is what GNU time's %M reports. It
// needs no package and measures the wall time to the microsecond.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/microservices-manifests/microservices-manifests/pkg/official"
	"github.com/microservices-manifests/microservices-manifests/pkg/render"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "measure":
		err = measure(os.Args[2:])
	case "apiversions":
		err = apiVersions(os.Args[2:])
	case "compare":
		err = compare(os.Args[2:])
	case "official":
		err = officialInputs(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtool:", err)
		os.Exit(2)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: benchtool measure OUT -- CMD [ARG...] | apiversions INDEX | compare PLATFORM.json PAIRS | official ROOT CHARTS SCHEMAS OUT")
	os.Exit(2)
}

// measure runs the command with the standard streams inherited and exits with its status.
func measure(args []string) error {
	if len(args) < 3 || args[1] != "--" {
		usage()
	}
	out, argv := args[0], args[2:]
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return err // did not start
	}
	code := cmd.ProcessState.ExitCode()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		code = 128 + int(ws.Signal())
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return errors.New("no resource usage on this platform")
	}
	f, err := os.OpenFile(out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	// ru_maxrss is in KiB on Linux.
	if _, err := fmt.Fprintf(f, "%.6f %d %d\n", wall.Seconds(), ru.Maxrss, code); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	os.Exit(code)
	return nil
}

// apiVersions applies pkg/render.APIVersions to the index of a schema snapshot: every "apiVersion Kind" key of the schema
// index becomes Helm's "group/version" and "group/version/Kind" capability forms, so that
// `helm template --api-versions` sees the .Capabilities.APIVersions platform renders with.
func apiVersions(args []string) error {
	if len(args) != 1 {
		usage()
	}
	b, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	var idx struct {
		Kinds map[string]json.RawMessage `json:"kinds"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	keys := make([]string, 0, len(idx.Kinds))
	for k := range idx.Kinds {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := render.APIVersions(keys)
	if len(out) == 0 {
		return fmt.Errorf("%s: no kinds", args[0])
	}
	fmt.Println(strings.Join(out, ","))
	return nil
}

// renderRules are platform's findings about rendering a chart (pkg/render): helm template
// fails, or its output does not parse, on the same problems. "schema" findings are per
// object; every other rule is a policy check that kubeconform does not have.
var renderRules = map[string]bool{
	"template": true, "values": true, "values-schema": true, "yaml": true,
	"chart": true, "dependency": true, "duplicate": true,
}

// key identifies a finding for the comparison: chart, environment and object
// (Kind/name: kubeconform's text output has no namespace).
type key struct{ chart, env, object string }

func (k key) String() string {
	if k.object == "" {
		return k.chart + " [" + k.env + "]"
	}
	return k.chart + " [" + k.env + "] " + k.object
}

// kubeconform's text output: "stdin - Deployment web is invalid: ..." and
// "stdin - Foo bar failed validation: could not find schema for Foo".
var (
	kcInvalid = regexp.MustCompile(`^\S+ - (\S+) (\S+) is invalid: (.*)$`)
	kcError   = regexp.MustCompile(`^\S+ - (\S+) (\S+) failed validation: (.*)$`)
	kcOther   = regexp.MustCompile(`^\S+ - (.*)$`)
)

// compare reads platform's JSON report and the PAIRS file written by the pipeline
// ("CHART ENV HELM_EXIT KUBECONFORM_EXIT LOG" per line, LOG holding both tools' output)
// and prints what each side found that the other did not.
func compare(args []string) error {
	if len(args) != 2 {
		usage()
	}
	b, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	var rep struct {
		Findings []struct {
			Severity, Rule, Chart, Env, Object, Path, Message string
		} `json:"findings"`
		Objects int `json:"objects"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	platform := map[key]string{} // schema findings per object; render findings per chart x env
	platformRender := map[key]string{}
	policy := map[string]int{} // severity -> count of the checks kubeconform does not have
	skipped := 0
	for _, f := range rep.Findings {
		f.Chart = officialApplication(f.Chart)
		if f.Rule == official.Rule {
			// An official chart source platform could not resolve or render: the pipeline
			// leaves it out too (benchtool official lists it as skipped).
			skipped++
			continue
		}
		if !renderRules[f.Rule] && f.Rule != "schema" {
			policy[f.Severity]++
			continue
		}
		if f.Rule == "schema" {
			k := key{f.Chart, f.Env, objectKindName(f.Object)}
			if _, ok := platform[k]; !ok {
				platform[k] = strings.TrimPrefix(f.Path+": ", ": ") + f.Message
			}
			continue
		}
		k := key{f.Chart, f.Env, ""}
		if _, ok := platformRender[k]; !ok {
			platformRender[k] = f.Rule + ": " + f.Message
		}
	}

	pairs, err := os.Open(args[1])
	if err != nil {
		return err
	}
	defer pairs.Close()
	kc := map[key]string{}
	kcRender := map[key]string{}
	var resources, invalid, unknown, other int
	summary := regexp.MustCompile(`Summary: (\d+) resources? found`)
	sc := bufio.NewScanner(pairs)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 5 {
			return fmt.Errorf("%s: bad line %q", args[1], sc.Text())
		}
		chart, env, helmExit, logFile := fields[0], fields[1], fields[2], fields[4]
		log, err := os.ReadFile(logFile)
		if err != nil {
			return err
		}
		if helmExit != "0" {
			kcRender[key{chart, env, ""}] = "helm exit " + helmExit + ": " + firstLine(string(log), "Error:")
		}
		for _, line := range strings.Split(string(log), "\n") {
			if m := summary.FindStringSubmatch(line); m != nil {
				var n int
				fmt.Sscan(m[1], &n)
				resources += n
				continue
			}
			var k key
			var msg string
			switch m := kcInvalid.FindStringSubmatch(line); {
			case m != nil:
				k, msg = key{chart, env, m[1] + "/" + m[2]}, m[3]
				invalid++
			default:
				m = kcError.FindStringSubmatch(line)
				if m == nil {
					if m = kcOther.FindStringSubmatch(line); m != nil && !strings.Contains(line, " is valid") && !strings.Contains(line, " skipped") {
						kcRender[key{chart, env, ""}] = "kubeconform: " + m[1]
						other++
					}
					continue
				}
				k, msg = key{chart, env, m[1] + "/" + m[2]}, m[3]
				if strings.Contains(msg, "could not find schema") {
					unknown++
				} else {
					other++
				}
			}
			if _, ok := kc[k]; !ok {
				kc[k] = msg
			}
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}

	fmt.Printf("objects checked: platform %d, kubeconform %d\n", rep.Objects, resources)
	fmt.Printf("kubeconform: %d invalid, %d unknown kind, %d other errors; %d chart x env failed to render\n",
		invalid, unknown, other, len(kcRender))
	fmt.Printf("platform:    %d objects with schema findings; %d chart x env with render/values findings\n",
		len(platform), len(platformRender))
	if len(policy) > 0 {
		fmt.Printf("platform also reports findings of checks kubeconform has no equivalent for (policies, official-values; left out below): %d errors, %d warnings, %d info\n",
			policy["error"], policy["warning"], policy["info"])
	}
	if skipped > 0 {
		fmt.Printf("platform: %d official chart sources not rendered (%s findings; skipped on both sides, left out below)\n", skipped, official.Rule)
	}
	onlyKC, onlyPF := diff(kc, platform), diff(platform, kc)
	onlyKCR, onlyPFR := diff(kcRender, platformRender), diff(platformRender, kcRender)
	if len(onlyKC)+len(onlyPF)+len(onlyKCR)+len(onlyPFR) == 0 {
		fmt.Println("agreement: both flag exactly the same objects and chart x env renders")
		return nil
	}
	show("objects only kubeconform flags", onlyKC, kc)
	show("objects only platform flags", onlyPF, platform)
	show("renders only helm/kubeconform fail", onlyKCR, kcRender)
	show("renders only platform fails", onlyPFR, platformRender)
	return nil
}

// officialApplication turns the chart of an official render, "<Application> (chart <name>
// <version>)", into the Application's name, the ID the pipeline's status lines carry.
func officialApplication(chart string) string {
	if app, _, ok := strings.Cut(chart, " (chart "); ok {
		return app
	}
	return chart
}

// objectKindName turns platform's Kind/namespace/name into kubeconform's Kind/name.
func objectKindName(id string) string {
	parts := strings.Split(id, "/")
	if len(parts) == 3 {
		return parts[0] + "/" + parts[2]
	}
	return id
}

func diff(a, b map[key]string) []key {
	var out []key
	for k := range a {
		if _, ok := b[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

func show(title string, keys []key, msgs map[key]string) {
	if len(keys) == 0 {
		return
	}
	fmt.Printf("%s (%d):\n", title, len(keys))
	const limit = 10
	for i, k := range keys {
		if i == limit {
			fmt.Printf("  ... and %d more\n", len(keys)-limit)
			break
		}
		fmt.Printf("  %s: %s\n", k, truncate(msgs[k], 200))
	}
}

func firstLine(s, prefix string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			return truncate(l, 200)
		}
	}
	return truncate(strings.TrimSpace(s), 200)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
