package command

import (
	"errors"
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/microservices-manifests/microservices-manifests/pkg/plan"
	"github.com/microservices-manifests/microservices-manifests/pkg/report"
)

func newRender(g *globals) *cobra.Command {
	var sel selection
	var out string
	var official officialFlags
	cmd := &cobra.Command{
		Use:   "render --env ENV --out DIR|-",
		Short: "Write the plan: every object of one environment, validated, Secret data redacted",
		Long: `render validates one environment and writes its objects to DIR, one file per object
(<chart>/<namespace>_<kind>.<group>_<name>.yaml), replacing DIR atomically. With any error
nothing is written and DIR keeps its previous content. --out - streams the objects as one
multi-document YAML stream to stdout (platform render -e dev -o - | kubectl apply -f -).

The official chart of every Argo CD Application is rendered and written too, in
<application>/ (charts from --charts-from, then .cache/charts, then the network; --offline:
never). Only without --chart: the Applications come from the whole environment.
--official=false writes our charts only.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(sel.envs) != 1 {
				return errors.New("render needs exactly one --env")
			}
			if out == "" {
				return errors.New("render needs --out DIR (or - for stdout)")
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
			renders := slices.Concat(res.Renders, res.Official)
			if res.Report.Failed() {
				if err := report.Text(g.stderr, res.Report); err != nil {
					return err
				}
				official.hint(g, res.Report)
				fmt.Fprintln(g.stderr, "nothing written")
				return &ExitError{Code: 1}
			}
			if out == "-" {
				return plan.Stream(g.stdout, renders)
			}
			files, err := plan.Files(renders)
			if err != nil {
				return err
			}
			if err := plan.Keep(out, files, res.Unrendered(sel.envs[0])); err != nil {
				return err
			}
			if err := plan.Write(out, files); err != nil {
				return err
			}
			fmt.Fprintf(g.stderr, "wrote %d objects of %d charts and %d official charts [%s] to %s\n", len(files), res.Report.Charts, len(res.Official), sel.envs[0], out)
			return nil
		},
	}
	sel.bind(cmd)
	cmd.Flags().StringVarP(&out, "out", "o", "", "plan directory, replaced atomically; - streams YAML to stdout")
	official.bind(cmd, "and write its objects in <application>/")
	return cmd
}
