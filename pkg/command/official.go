package command

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/microservices-manifests/microservices-manifests/pkg/chartsource"
	"github.com/microservices-manifests/microservices-manifests/pkg/official"
	"github.com/microservices-manifests/microservices-manifests/pkg/policy"
	"github.com/microservices-manifests/microservices-manifests/pkg/report"
)

// officialFlags are --official, --charts-from and --offline: whether, and from where, the
// official charts that the Argo CD Applications install are rendered.
type officialFlags struct {
	on         bool
	chartsFrom []string
	offline    bool
}

// bind adds the flags (--official on by default). what says what rendering the official
// charts adds to the command ("and checks their objects", "planned in ...").
func (o *officialFlags) bind(cmd *cobra.Command, what string) {
	cmd.Flags().BoolVar(&o.on, "official", true, "render the official chart of every Argo CD Application (Istio's from its Go module) "+what+"; --official=false: our charts only")
	cmd.Flags().StringSliceVar(&o.chartsFrom, "charts-from", nil, "folder(s) of packaged official charts (<name>-<version>.tgz) used before the cache and the network (default: ../shared/charts beside the repository when it exists)")
	cmd.Flags().BoolVar(&o.offline, "offline", false, "never touch the network for official charts (--charts-from and .cache/charts only; a chart found nowhere is a warning naming its Application)")
}

// resolver is the charts' resolver, caching under <root>/.cache/charts; nil when
// --official=false, which is said once on stderr: a plan or diff without the official
// charts must not pass for a complete one. Over the network it contacts only the chart
// repositories the platform names (policy.Platform.ChartRepositories), never one a pull
// request writes into an Application.
func (o *officialFlags) resolver(g *globals) *chartsource.Resolver {
	if !o.on {
		fmt.Fprintln(g.stderr, "official charts off (--official=false): the objects of the charts the Applications install are neither rendered nor checked")
		return nil
	}
	from := o.chartsFrom
	if len(from) == 0 {
		if dir := defaultChartsFrom(g.root, ""); dir != "" {
			from = []string{dir}
		}
	}
	return &chartsource.Resolver{CacheDir: filepath.Join(g.root, ".cache", "charts"), ChartsFrom: from, Offline: o.offline,
		Repositories: policy.DefaultPlatform().ChartRepositories, Log: g.stderr}
}

// hint says, once on stderr, what to do when official charts could not be resolved online:
// the message of each finding says why (a repository unreachable, a version it does not have).
func (o *officialFlags) hint(g *globals, rep *report.Report) {
	if !o.on || o.offline {
		return
	}
	for _, f := range rep.Findings {
		if f.Rule == official.Rule && f.Severity == report.Error {
			fmt.Fprintln(g.stderr, "official charts not resolved (see the errors above): without network, --offline makes a chart found in no --charts-from folder and not in .cache/charts a warning; --official=false leaves them out")
			return
		}
	}
}
