package command

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/microservices-manifests/microservices-manifests/pkg/diff"
)

func newDiff(g *globals) *cobra.Command {
	d := &diff.Differ{}
	output := "text"
	var official officialFlags
	cmd := &cobra.Command{
		Use:   "diff --base REF [--head REF|worktree]",
		Short: "Compare the rendered objects of two revisions: added, removed, changed, with a unified diff each",
		Long: `diff renders the base and the head revision (each checked out into a temporary git worktree,
removed afterwards; the head defaults to the working tree with its uncommitted changes) and
compares every object by environment, chart, apiVersion, kind, namespace and name.
Secret data is masked (a changed value shows as "<redacted> (changed)"); the helm.sh/chart and
app.kubernetes.io/version labels and checksum/* annotations are ignored, and chart version
bumps are listed once per chart instead.

The official chart of every Argo CD Application is rendered on both sides at the version
each pins and compared under the Application's name: a chart bump lists the version change
("kube-prometheus-stack: chart kube-prometheus-stack 88.4.0 → 88.5.3") and every object it
changes. Charts come from --charts-from, then .cache/charts, then the network (--offline:
never); --official=false compares our charts only.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			write, err := diff.Format(output)
			if err != nil {
				return err
			}
			d.Root = g.root
			d.Official = official.resolver(g)
			res, err := d.Run(cmd.Context())
			if err != nil {
				return err
			}
			if res.BaseErrors+res.HeadErrors > 0 {
				fmt.Fprintf(g.stderr, "warning: validation errors (base %d, head %d): objects of charts that failed to render are missing; run platform validate\n", res.BaseErrors, res.HeadErrors)
			}
			if err := write(g.stdout, res); err != nil {
				return err
			}
			fmt.Fprintln(g.stderr, res.Summary())
			return nil
		},
	}
	cmd.Flags().StringVar(&d.Base, "base", "", "base revision (branch, tag, commit); required")
	cmd.Flags().StringVar(&d.Head, "head", diff.Worktree, "head revision, or worktree for the working tree")
	cmd.Flags().StringSliceVarP(&d.Envs, "env", "e", nil, "environment(s) to compare (default: all)")
	cmd.Flags().StringVarP(&output, "output", "o", output, fmt.Sprintf("output format: %v", diff.FormatNames()))
	official.bind(cmd, "on both sides and compare its objects")
	cmd.MarkFlagRequired("base")
	return cmd
}
