package command

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/microservices-manifests/microservices-manifests/pkg/policy"
)

func newPolicy(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "List and explain the policy rules platform validate enforces",
		Long: `The policy rules (pkg/policy) run in platform validate after the schema check, on each
environment as a whole. CRITICAL fails everywhere, HIGH fails in prd and warns in dev, MEDIUM
warns, LOW informs. Exempt an object with the annotation
` + policy.ExemptPrefix + `<ID>: "<reason>".`,
	}
	cmd.AddCommand(newPolicyList(g), newPolicyExplain(g), newPolicyDocs(g))
	return cmd
}

func newPolicyList(g *globals) *cobra.Command {
	output := "text"
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Print the rules: id, severity, name, kinds",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			switch output {
			case "json":
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(policy.RuleInfos())
			case "text":
				tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSEVERITY\tNAME\tKINDS")
				for _, r := range policy.Rules() {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.ID, r.Severity, r.Name, r.Kinds)
				}
				return tw.Flush()
			default:
				return fmt.Errorf("unknown output format %q (want text or json)", output)
			}
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", output, "output format: text or json")
	return cmd
}

func newPolicyExplain(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "explain ID",
		Short: "Describe one rule: description, remediation, sources, severity per environment",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			r, ok := policy.Lookup(args[0])
			if !ok {
				return fmt.Errorf("unknown rule %q (see platform policy list)", args[0])
			}
			return policy.Explain(g.stdout, r)
		},
	}
}

func newPolicyDocs(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "docs",
		Short: "Print docs/policies.md, generated from the rules",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return policy.Markdown(g.stdout)
		},
	}
}
