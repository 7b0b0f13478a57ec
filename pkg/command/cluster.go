package command

import (
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/microservices-manifests/microservices-manifests/pkg/cluster"
	"github.com/microservices-manifests/microservices-manifests/pkg/report"
	"github.com/microservices-manifests/microservices-manifests/pkg/validate"
)

func newCluster(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster build|up|down|status|apply|argocd",
		Short: "The embedded cluster: a real control plane (1.35) with simulated nodes and pods (kwok), on 127.0.0.1",
		Long: `cluster runs the cluster make up deploys onto: etcd, kube-apiserver, kube-controller-manager and
kube-scheduler built from the pinned k8s.io/kubernetes (once, cached in bin/cluster/), and kwok
simulating two worker nodes per node.kubernetes.io/nodegroup=app|deploy|ingress|system
(embedded-<nodegroup>-1 and -2, in two zones) plus a control-plane node. State, certificates,
the admin kubeconfig and logs are in .cache/cluster/.`,
	}
	cmd.AddCommand(newClusterBuild(g), newClusterUp(g), newClusterDown(g), newClusterStatus(g), newClusterApply(g), newClusterArgoCD(g), newClusterRegistry(g))
	return cmd
}

func newClusterBuild(g *globals) *cobra.Command {
	var argocd bool
	cmd := &cobra.Command{
		Use:   "build [--argocd]",
		Short: "Build the components into bin/cluster/ unless the cached ones match (up does this too)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c := cluster.New(g.root, g.stderr)
			start := time.Now()
			built, err := c.Components.Ensure(cmd.Context())
			if err != nil {
				return err
			}
			if !built {
				fmt.Fprintf(g.stderr, "components up to date in %s (%s)\n", c.Components.BinDir, time.Since(start).Round(time.Millisecond))
			}
			if argocd {
				start = time.Now()
				built, err := c.Components.EnsureArgoCD(cmd.Context())
				if err != nil {
					return err
				}
				if !built {
					fmt.Fprintf(g.stderr, "argocd %s up to date in %s (%s)\n", cluster.ArgoCDVersion, c.Components.BinDir, time.Since(start).Round(time.Millisecond))
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&argocd, "argocd", false, "also build ArgoCD "+cluster.ArgoCDVersion+" (platform cluster argocd runs it)")
	return cmd
}

func newClusterUp(g *globals) *cobra.Command {
	var (
		timeout time.Duration
		argocd  bool
	)
	cmd := &cobra.Command{
		Use:   "up [--argocd]",
		Short: "Build the components if needed, start the cluster (no-op when it is running)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c := cluster.New(g.root, g.stderr)
			c.StartTimeout = timeout
			res, err := c.Start(cmd.Context())
			if err != nil {
				return err
			}
			if res.AlreadyRunning {
				fmt.Fprintf(g.stderr, "cluster already running: %s\n", res.Server)
			}
			fmt.Fprintf(g.stdout, "export KUBECONFIG=%s\n", res.Kubeconfig)
			if argocd {
				return runArgoCD(cmd, g, &cluster.ArgoCD{Cluster: c, Root: g.root, Log: g.stderr})
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "bound of each start-up wait")
	cmd.Flags().BoolVar(&argocd, "argocd", false, "then run ArgoCD on it and sync the dev App-of-Apps (as platform cluster argocd)")
	return cmd
}

func newClusterDown(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Stop ArgoCD's processes, the ECR stand-in, then the cluster's, and drop its etcd data (also after a failed start)",
		Long: `down stops every process platform cluster up, platform cluster argocd and platform cluster registry
started, as recorded in .cache/cluster/argocd/state.json, .cache/cluster/registry/state.json and
.cache/cluster/state.json (each with its start time, so a PID
reused by another process is never signalled): newest first, SIGTERM, SIGKILL after a bounded wait,
then what is left of their process group. ArgoCD goes first: its controller holds watches on the
apiserver. The cluster is stopped even when stopping ArgoCD failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c := cluster.New(g.root, g.stderr)
			argoErr := (&cluster.ArgoCD{Cluster: c, Root: g.root, Log: g.stderr}).Stop(cmd.Context())
			regErr := (&cluster.Registry{Cluster: c, Root: g.root, Log: g.stderr}).Down(cmd.Context())
			if err := errors.Join(argoErr, regErr, c.Stop(cmd.Context())); err != nil {
				return err
			}
			fmt.Fprintln(g.stderr, "cluster stopped")
			return nil
		},
	}
}

func newClusterStatus(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "The cluster's processes and nodes; exit 1 when it is not running",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := cluster.New(g.root, g.stderr).Status(cmd.Context())
			if err != nil {
				return err
			}
			if s.Server == "" {
				fmt.Fprintln(g.stdout, "cluster: not running (platform cluster up)")
				return &ExitError{Code: 1}
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "server\t%s\nkubeconfig\t%s\nstarted\t%s\n\n", s.Server, s.Kubeconfig, s.Started.Format(time.RFC3339))
			fmt.Fprintln(tw, "COMPONENT\tPID\tPORT\tRUNNING")
			for _, c := range s.Components {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%t\n", c.Name, c.PID, c.Port, c.Alive)
			}
			if len(s.Nodes) > 0 {
				fmt.Fprintln(tw, "\nNODE\tNODEGROUP\tREADY\tPODS")
				for _, n := range s.Nodes {
					ng := n.NodeGroup
					if ng == "" {
						ng = "-"
					}
					fmt.Fprintf(tw, "%s\t%s\t%t\t%d\n", n.Name, ng, n.Ready, n.Pods)
				}
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if !s.Running {
				fmt.Fprintf(g.stdout, "cluster: not healthy: %s\n", s.Error)
				return &ExitError{Code: 1}
			}
			return nil
		},
	}
}

func newClusterApply(g *globals) *cobra.Command {
	var (
		env        string
		kubeconfig string
		kubeCtx    string
		sharedCRDs string
		timeout    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "apply [-e ENV]",
		Short: "Install the CRDs, server-side apply the environment's plan, wait for every workload on its nodegroup",
		Long: `apply validates ENV (as platform render does; nothing is applied on errors), installs the CRDs
the schemas were generated from (Istio, ArgoCD, Prometheus Operator, ACK) and waits until they are
Established, applies the Namespaces, then every other object in Helm's install order with
server-side apply (field manager "platform"), retrying kinds not served yet. Then it waits until
every Deployment and StatefulSet is Available on a node whose node.kubernetes.io/nodegroup its
affinity requires, and prints workload, nodegroup, node, ready. On the embedded cluster, pending
PersistentVolumeClaims get a pre-bound volume (there is no storage provisioner). Admission
webhooks (Istio's injector, ...) are not installed. --kubeconfig/--context target another cluster.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			res, err := (&validate.Validator{Root: g.root, Envs: []string{env}}).Run(ctx)
			if err != nil {
				return err
			}
			if res.Report.Failed() {
				if err := report.Text(g.stderr, res.Report); err != nil {
					return err
				}
				fmt.Fprintln(g.stderr, "nothing applied")
				return &ExitError{Code: 1}
			}
			objs, err := cluster.ObjectsFromRenders(res.Renders)
			if err != nil {
				return err
			}
			c := cluster.New(g.root, g.stderr)
			a := &cluster.Applier{Root: g.root, SharedCRDs: sharedCRDs, Objects: objs, Timeout: timeout, Log: g.stderr}
			if kubeconfig == "" && kubeCtx == "" {
				if a.Config, err = c.RESTConfig(); err != nil {
					return fmt.Errorf("embedded cluster: %w (start it: platform cluster up)", err)
				}
				a.ProvisionVolumes = true
				a.DataDir = c.Dir + "/volumes"
			} else {
				rules := clientcmd.NewDefaultClientConfigLoadingRules()
				rules.ExplicitPath = kubeconfig
				cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubeCtx})
				if a.Config, err = cc.ClientConfig(); err != nil {
					return err
				}
			}
			fmt.Fprintf(g.stderr, "applying %d objects of %d charts [%s] to %s\n", len(objs), res.Report.Charts, env, a.Config.Host)
			out, err := a.Run(ctx)
			if out != nil && len(out.Workloads) > 0 {
				if werr := cluster.WriteTable(g.stdout, out.Workloads); werr != nil {
					return werr
				}
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stderr, "%d CRDs, %d objects applied, %d volumes provisioned, %d workloads available on their nodegroup in %s\n",
				out.CRDs, out.Applied, len(out.Volumes), len(out.Workloads), out.Duration.Round(100*time.Millisecond))
			return nil
		},
	}
	cmd.Flags().StringVarP(&env, "env", "e", "dev", "environment whose plan is applied")
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "apply to the cluster of this kubeconfig instead of the embedded one")
	cmd.Flags().StringVar(&kubeCtx, "context", "", "kubeconfig context (with --kubeconfig or $KUBECONFIG) instead of the embedded cluster")
	cmd.Flags().StringVar(&sharedCRDs, "shared-crds", "", "directory of the CRDs no module proxy serves (default: <root>/pkg/schema/crds)")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Minute, "bound of each wait (CRDs established, kinds served, workloads available)")
	return cmd
}

func newClusterRegistry(g *globals) *cobra.Command {
	var (
		env  string
		down bool
	)
	cmd := &cobra.Command{
		Use:   "registry [-e ENV] | registry --down",
		Short: "Run the ECR stand-in in the background beside the embedded cluster",
		Long: `registry starts the ECR stand-in (platform registry serve: CNCF Distribution behind an HTTPS proxy
admitting only user AWS with a token from its local GetAuthorizationToken endpoint) in the
background, keeps its storage in .cache/cluster/registry/data until platform cluster down (which
drops it, as it drops the cluster's etcd), and prints the
settings a publisher needs as KEY=VALUE lines (source them), plus OCI_REPOSITORY: the
repository of ENV's charts in it (production's repository path under 127.0.0.1:PORT), which
platform publish --registry and platform cluster argocd -e ENV use. platform cluster down (or
--down) stops it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r := &cluster.Registry{Cluster: cluster.New(g.root, g.stderr), Root: g.root, Log: g.stderr}
			if down {
				return r.Stop(cmd.Context())
			}
			prod, err := cluster.OCIRepository(g.root, env)
			if err != nil {
				return err
			}
			if prod == "" {
				return fmt.Errorf("environment %s pulls its charts from git (deploy/argocd/shared/parent chartSource): no registry needed", env)
			}
			if r.Exe, err = os.Executable(); err != nil {
				return err
			}
			st, err := r.Start(cmd.Context())
			if err != nil {
				return err
			}
			for _, k := range cluster.RegistrySettings {
				fmt.Fprintf(g.stdout, "%s=%s\n", k, st.Settings[k])
			}
			fmt.Fprintf(g.stdout, "OCI_REPOSITORY=%s\n", st.Repository(prod))
			return nil
		},
	}
	cmd.Flags().StringVarP(&env, "env", "e", "prd", "environment whose charts the stand-in holds")
	cmd.Flags().BoolVar(&down, "down", false, "stop it instead")
	return cmd
}
