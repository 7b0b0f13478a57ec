package command

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/microservices-manifests/microservices-manifests/pkg/report"
	"github.com/microservices-manifests/microservices-manifests/pkg/versioncheck"
)

func newCheckVersion(g *globals) *cobra.Command {
	c := &versioncheck.Checker{}
	output := "text"
	cmd := &cobra.Command{
		Use:   "check-version --base REF",
		Short: "Fail when a chart changed against REF without a version bump, or prd still pins the old version",
		Long: `check-version renders REF and the working tree and, for every published chart (app/, infra/)
whose rendered objects differ, requires its Chart.yaml version to be SemVer-greater than at REF,
and every prd Application that pulls the chart from the registry (deploy/argocd) to pin the
new version in its targetRevision. Findings name the Chart.yaml or values line to change.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			write, err := report.Format(output)
			if err != nil {
				return err
			}
			c.Root = g.root
			rep, err := c.Run(cmd.Context())
			if err != nil {
				return err
			}
			for _, f := range rep.Findings {
				line := f.String()
				if output == "text" {
					fmt.Fprintln(g.stdout, line)
				}
			}
			if output != "text" {
				if err := write(g.stdout, rep); err != nil {
					return err
				}
			}
			fmt.Fprintf(g.stderr, "%d changed charts checked against %s: %d errors\n", rep.Charts, c.Base, rep.Count(report.Error))
			if rep.Failed() {
				return &ExitError{Code: 1}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&c.Base, "base", "", "base revision (branch, tag, commit); required")
	cmd.Flags().StringVarP(&output, "output", "o", output, fmt.Sprintf("output format: %v", report.FormatNames()))
	cmd.MarkFlagRequired("base")
	return cmd
}
