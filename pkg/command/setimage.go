package command

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/microservices-manifests/microservices-manifests/pkg/report"
	chartvalues "github.com/microservices-manifests/microservices-manifests/pkg/values"
)

func newSetImage(g *globals) *cobra.Command {
	s := &chartvalues.ImageSetter{}
	output := "text"
	cmd := &cobra.Command{
		Use:   "set-image --service S --tag T [--env E] [--digest sha256:...]",
		Short: "Set a service's image tag in its values file, keeping comments and formatting",
		Long: `set-image edits app/S/values-E.yaml (or app/S/values.yaml without --env) in place, setting
containers.app.image.tag (and containers.app.image.digest with --digest; an existing digest
in the edited file is cleared otherwise, as it would keep the old image). Only the value's
characters change: comments, order and blank lines stay. The chart is then validated in
every environment; if it no longer validates, the file is restored and the findings shown.
The backend repository's CI calls it to propose image bumps.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("unknown output format %q (want text or json)", output)
			}
			s.Root = g.root
			res, err := s.Run(cmd.Context())
			if err != nil {
				if res != nil && res.Report != nil && res.Report.Failed() {
					_ = report.Text(g.stderr, res.Report)
				}
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			if len(res.Changes) == 0 {
				fmt.Fprintf(g.stdout, "%s: unchanged (image tag already %s)\n", res.File, s.Tag)
			}
			for _, c := range res.Changes {
				fmt.Fprintln(g.stdout, c.String())
			}
			for _, n := range res.Notes {
				fmt.Fprintln(g.stderr, "note:", n)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&s.Service, "service", "", "service, the chart under app/ (e.g. account) (required)")
	f.StringVar(&s.Tag, "tag", "", "image tag, never latest (required)")
	f.StringVarP(&s.Env, "env", "e", "", "environment whose values file is edited (default: values.yaml, every environment)")
	f.StringVar(&s.Digest, "digest", "", "image digest sha256:... to pin")
	f.StringVar(&s.Container, "container", "app", "container whose image is set")
	f.StringVarP(&output, "output", "o", output, "output format: text or json")
	_ = cmd.MarkFlagRequired("service")
	_ = cmd.MarkFlagRequired("tag")
	return cmd
}
