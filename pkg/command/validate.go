package command

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/microservices-manifests/microservices-manifests/pkg/report"
	"github.com/microservices-manifests/microservices-manifests/pkg/validate"
)

// selection is what validate and render share: --env, --chart and --policies.
type selection struct {
	envs     []string
	charts   []string
	policies bool
}

func (s *selection) bind(cmd *cobra.Command) {
	cmd.Flags().StringSliceVarP(&s.envs, "env", "e", nil, "environment(s) to check (default: all found)")
	cmd.Flags().StringSliceVarP(&s.charts, "chart", "c", nil, "chart(s) by directory, e.g. app/account (default: all)")
	cmd.Flags().BoolVar(&s.policies, "policies", true, "run the security and reliability policies after the schema check (--policies=false: schemas only)")
}

func (s *selection) validator(g *globals) *validate.Validator {
	return &validate.Validator{Root: g.root, Envs: s.envs, Charts: s.charts, SkipPolicies: !s.policies}
}

func newValidate(g *globals) *cobra.Command {
	var (
		sel      selection
		official officialFlags
	)
	output := "text"
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Render every chart in every environment and validate each object strictly",
		Long: `validate renders each chart for each environment in-process with the Helm SDK and checks
every object against the Kubernetes 1.35 OpenAPI and the CRDs (Istio, ArgoCD, Prometheus
Operator, ACK and any CRD the charts render): unknown fields, wrong types, missing required
fields, bad enum values and unknown kinds are errors. Then the policies (platform policy list)
check the rendered environment as a whole. Exit status 1 when any error is found.

The official chart of every Argo CD Application (kube-prometheus-stack, Istio's, ...) is
rendered as Argo CD would and checked the same way (charts from --charts-from, then
.cache/charts, then its chart repository; --offline: never the network). Only without
--chart: the Applications come from the whole environment.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			write, err := report.Format(output)
			if err != nil {
				return err
			}
			v := sel.validator(g)
			v.Official = official.resolver(g)
			if v.Official != nil && len(sel.charts) > 0 {
				fmt.Fprintln(g.stderr, "official charts not rendered: --chart selects charts, and the Applications come from the whole environment")
			}
			res, err := v.Run(cmd.Context())
			if err != nil {
				return err
			}
			if err := write(g.stdout, res.Report); err != nil {
				return err
			}
			official.hint(g, res.Report)
			if res.Report.Failed() {
				return &ExitError{Code: 1}
			}
			return nil
		},
	}
	sel.bind(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", output, fmt.Sprintf("output format: %v", report.FormatNames()))
	official.bind(cmd, "and check its objects against the schemas and the policies like ours")
	return cmd
}
