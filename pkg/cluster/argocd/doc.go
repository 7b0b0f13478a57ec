// Package argocd is the build module of ArgoCD for the embedded cluster; it only pins
// versions (go.mod, go.sum). The binary is built with
//
//	GOTOOLCHAIN=go1.27.3 go build -o bin/cluster/argocd github.com/argoproj/argo-cd/v3/cmd
//
// from this directory (pkg/cluster/argocd.go does it, cached with a stamp).
package argocd
