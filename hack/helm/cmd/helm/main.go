// Command helm is the Helm CLI, built from the helm.sh/helm/v4 module for
// agw's chart tests. It is upstream's cmd/helm entry point, which lives in a
// main package and so cannot be imported; the body repeats it.
package main

import (
	"errors"
	"log/slog"
	"os"

	_ "k8s.io/client-go/plugin/pkg/client/auth" // exec/oidc kubeconfig auth, as upstream

	helmcmd "helm.sh/helm/v4/pkg/cmd"
	"helm.sh/helm/v4/pkg/kube"
)

func main() {
	// Upstream pins the server-side-apply field manager to "helm" so that a
	// renamed binary still owns the same managedFields.
	kube.ManagedFieldsManager = "helm"

	cmd, err := helmcmd.NewRootCmd(os.Stdout, os.Args[1:], helmcmd.SetupLogging)
	if err != nil {
		slog.Warn("command failed", slog.Any("error", err))
		os.Exit(1)
	}
	if err := cmd.Execute(); err != nil {
		if cerr, ok := errors.AsType[helmcmd.CommandError](err); ok {
			os.Exit(cerr.ExitCode)
		}
		os.Exit(1)
	}
}
