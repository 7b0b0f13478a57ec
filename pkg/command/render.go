package command

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/microservices-manifests/microservices-manifests/pkg/plan"
	"github.com/microservices-manifests/microservices-manifests/pkg/report"
)

func newRender(g *globals) *cobra.Command {
	var sel selection
	var out string
	cmd := &cobra.Command{
		Use:   "render --env ENV --out DIR|-",
		Short: "Write the plan: every object of one environment, validated, Secret data redacted",
		Long: `render validates one environment and writes its objects to DIR, one file per object
(<chart>/<namespace>_<kind>.<group>_<name>.yaml), replacing DIR atomically. With any error
nothing is written and DIR keeps its previous content. --out - streams the objects as one
multi-document YAML stream to stdout (platform render -e dev -o - | kubectl apply -f -).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(sel.envs) != 1 {
				return errors.New("render needs exactly one --env")
			}
			if out == "" {
				return errors.New("render needs --out DIR (or - for stdout)")
			}
			res, err := sel.validator(g).Run(cmd.Context())
			if err != nil {
				return err
			}
			if res.Report.Failed() {
				if err := report.Text(g.stderr, res.Report); err != nil {
					return err
				}
				fmt.Fprintln(g.stderr, "nothing written")
				return &ExitError{Code: 1}
			}
			if out == "-" {
				return plan.Stream(g.stdout, res.Renders)
			}
			files, err := plan.Files(res.Renders)
			if err != nil {
				return err
			}
			if err := plan.Write(out, files); err != nil {
				return err
			}
			fmt.Fprintf(g.stderr, "wrote %d objects of %d charts [%s] to %s\n", len(files), res.Report.Charts, sel.envs[0], out)
			return nil
		},
	}
	sel.bind(cmd)
	cmd.Flags().StringVarP(&out, "out", "o", "", "plan directory, replaced atomically; - streams YAML to stdout")
	return cmd
}
