package command

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/microservices-manifests/microservices-manifests/pkg/ecrlocal"
)

func newRegistry(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "The local stand-in for ECR: a real OCI registry that accepts only ECR tokens",
	}
	cmd.AddCommand(newRegistryBuild(g), newRegistryServe(g))
	return cmd
}

func registryBinDir(g *globals) string { return filepath.Join(g.root, "bin") }

func newRegistryBuild(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "build",
		Short: fmt.Sprintf("Build Distribution's registry %s into bin/ (once per version)", ecrlocal.RegistryVersion),
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			start := time.Now()
			bin, built, err := ecrlocal.Build(cmd.Context(), registryBinDir(g), g.stderr)
			if err != nil {
				return err
			}
			if !built {
				fmt.Fprintf(g.stderr, "%s %s up to date (%s)\n", bin, ecrlocal.RegistryVersion, time.Since(start).Round(time.Millisecond))
			}
			return nil
		},
	}
}

func newRegistryServe(g *globals) *cobra.Command {
	s := &ecrlocal.Server{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the ECR stand-in until interrupted",
		Long: `serve runs CNCF Distribution (built into bin/registry if missing) behind an HTTPS proxy
on 127.0.0.1 that admits only user AWS with a token from the local GetAuthorizationToken
endpoint, which checks SigV4 signatures made with the given AWS key (a random one when
none is given).

Stdout: the variables a publisher needs, as KEY=VALUE lines (source them):
REGISTRY (the ECR-shaped host:port, which must resolve to 127.0.0.1 for the client),
REGISTRY_ADDR, AWS_ENDPOINT_URL_ECR, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
and SSL_CERT_FILE (the CA of the registry's certificate).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if s.AccessKeyID == "" {
				s.AccessKeyID = "AKIDLOCAL" + randomHex(6)
			}
			if s.SecretAccessKey == "" {
				s.SecretAccessKey = randomHex(20)
			}
			if !filepath.IsAbs(s.Dir) {
				s.Dir = filepath.Join(g.root, s.Dir)
			}
			bin, _, err := ecrlocal.Build(cmd.Context(), registryBinDir(g), g.stderr)
			if err != nil {
				return err
			}
			s.Binary, s.Log = bin, g.stderr
			inst, err := s.Start(cmd.Context())
			if err != nil {
				return err
			}
			defer inst.Close()
			for _, kv := range [][2]string{
				{"REGISTRY", inst.Host}, {"REGISTRY_ADDR", inst.Addr}, {"AWS_ENDPOINT_URL_ECR", inst.APIEndpoint},
				{"AWS_REGION", inst.Region}, {"AWS_ACCESS_KEY_ID", s.AccessKeyID}, {"AWS_SECRET_ACCESS_KEY", s.SecretAccessKey},
				{"SSL_CERT_FILE", inst.CAFile},
			} {
				fmt.Fprintf(g.stdout, "%s=%s\n", kv[0], kv[1])
			}
			if f, ok := g.stdout.(*os.File); ok {
				_ = f.Sync()
			}
			select {
			case <-cmd.Context().Done():
				return inst.Close()
			case <-inst.Exited():
				return fmt.Errorf("registry exited (log: %s)", filepath.Join(s.Dir, "registry.log"))
			}
		},
	}
	f := cmd.Flags()
	f.StringVar(&s.Dir, "dir", ".cache/registry", "storage, configuration, log and CA certificate (relative to the repository root)")
	f.StringVar(&s.Addr, "addr", "127.0.0.1:0", "the registry's HTTPS address")
	f.StringVar(&s.APIAddr, "api-addr", "127.0.0.1:0", "the ECR API's HTTP address")
	f.StringVar(&s.Account, "account", ecrlocal.DefaultAccount, "AWS account of the registry host name")
	f.StringVar(&s.Region, "region", ecrlocal.DefaultRegion, "region of the registry host name and of the accepted signatures")
	f.StringVar(&s.AccessKeyID, "access-key-id", "", "the AWS access key ID the ECR API accepts (default: random)")
	f.StringVar(&s.SecretAccessKey, "secret-access-key", "", "its secret (default: random; printed on stdout)")
	return cmd
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
