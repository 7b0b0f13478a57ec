package command

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/microservices-manifests/microservices-manifests/pkg/discovery"
)

func newList(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the charts and the environments each is rendered for",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			repo, err := discovery.Discover(g.root)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "CHART\tNAME\tVERSION\tTYPE\tNAMESPACE\tENVIRONMENTS")
			for _, c := range repo.Charts {
				envs := "-"
				if !c.Library() {
					var have []string
					for _, e := range repo.Environments {
						if _, ok := c.ValuesFiles[e]; ok {
							have = append(have, e)
						} else {
							have = append(have, e+"(missing)")
						}
					}
					envs = strings.Join(have, ",")
				}
				ns := c.Namespace
				if c.Library() {
					ns = "-"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Name, c.Version, c.Type, ns, envs)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(g.stderr, "%d charts (%d rendered) x %d environments (%s)\n",
				len(repo.Charts), len(repo.Renderable()), len(repo.Environments), strings.Join(repo.Environments, ", "))
			return nil
		},
	}
}
