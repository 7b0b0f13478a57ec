package command

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/microservices-manifests/microservices-manifests/pkg/publish"
	"github.com/microservices-manifests/microservices-manifests/pkg/report"
)

func newPublish(g *globals) *cobra.Command {
	p := &publish.Publisher{}
	output := "text"
	cmd := &cobra.Command{
		Use:   "publish --env ENV [--registry HOST/PREFIX]",
		Short: "Bake each chart's values and secrets into it, package it and push it as a Helm OCI artifact",
		Long: `publish is the main branch's step: validate the repository for ENV, read every secret
declared in secrets.yaml for ENV from the environment (failing, with the name of every
missing variable, before anything else), merge values.yaml, values-ENV.yaml and the secrets
into each chart's values.yaml, package the chart with the Helm SDK, and push it to
HOST/PREFIX/<chart dir>:<chart version> (e.g. .../charts/app/account:0.1.0).

An ECR host (<account>.dkr.ecr.<region>.amazonaws.com) is authorized with
ecr:GetAuthorizationToken using the AWS credentials of the environment (on GitHub, the OIDC
role); other registries use the Docker configuration. Without --registry the charts go to
local OCI layouts under .cache/oci/ENV/ (oci-layout:.cache/oci), readable by you only; an
empty --registry is refused. A version that already exists with other content
is refused; with the same content it is reported unchanged.

Stdout: one pushed reference per chart (HOST/PREFIX/<chart>:<version>@sha256:...), or the
JSON result with --output json. Secret values never appear in any output.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("unknown output format %q (want text or json)", output)
			}
			p.Root, p.Log = g.root, g.stderr
			res, err := p.Run(cmd.Context())
			var verr *publish.ValidationError
			if errors.As(err, &verr) {
				if werr := report.Text(g.stderr, verr.Report); werr != nil {
					return werr
				}
				return err
			}
			if err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			for _, c := range res.Charts {
				fmt.Fprintln(g.stdout, c.Reference)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&p.Env, "env", "e", "", "environment whose values and secrets are baked in (required)")
	f.StringVar(&p.Registry, "registry", publish.LocalLayout, "registry HOST[/PREFIX], or oci-layout:DIR for local OCI layouts under DIR/ENV (0700)")
	f.StringSliceVarP(&p.Charts, "chart", "c", nil, "chart(s) by directory, e.g. app/account (default: every chart under app/ and infra/)")
	f.BoolVar(&p.DryRun, "dry-run", false, "validate, read the secrets and package, but contact no registry")
	f.BoolVar(&p.PlainHTTP, "plain-http", false, "use HTTP, not HTTPS, for the registry (a registry on 127.0.0.1)")
	f.StringVar(&p.ECRRegion, "ecr-region", "", "authorize with ECR's GetAuthorizationToken in this region whatever the registry's host name (an ECR-compatible endpoint such as the local stand-in, make registry)")
	f.StringVar(&p.ECREndpoint, "ecr-endpoint", "", "ECR API endpoint URL (default: $AWS_ENDPOINT_URL_ECR, else AWS's)")
	f.StringVarP(&output, "output", "o", output, "output format: text or json")
	_ = cmd.MarkFlagRequired("env")
	return cmd
}
