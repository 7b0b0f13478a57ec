package command

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/microservices-manifests/microservices-manifests/pkg/catalog"
)

func newCatalog(g *globals) *cobra.Command {
	b := &catalog.Builder{}
	output := "text"
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "List every microservice: image (ECR registry, repository, tag), ports, nodegroup, database, Application",
		Long: `catalog renders the repository and lists, for every microservice (the Deployments in
namespace microservices of the charts under app/, app/shared excepted), its image split into
registry, repository and tag, its app container's ports, its Service ports and the container
port each forwards to, its nodegroup (from the node affinity), its database (the MySQL
StatefulSet in dev, the Aurora endpoint of the ExternalName Service in prd) and the ArgoCD
Application that deploys its chart. Everything comes from the rendered objects.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			write, err := catalog.Format(output)
			if err != nil {
				return err
			}
			b.Root = g.root
			cat, err := b.Run(cmd.Context())
			if err != nil {
				return err
			}
			if err := write(g.stdout, cat); err != nil {
				return err
			}
			if cat.Errors > 0 {
				fmt.Fprintf(g.stderr, "%d validation errors: charts that failed to render are missing; run platform validate\n", cat.Errors)
				return &ExitError{Code: 1}
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVarP(&b.Envs, "env", "e", nil, "environment(s) (default: all)")
	cmd.Flags().StringVarP(&output, "output", "o", output, fmt.Sprintf("output format: %v", catalog.FormatNames()))
	return cmd
}
