// Command kube-apiserver is the Kubernetes API server, built from the
// k8s.io/kubernetes module for agw's tests. It calls the same public entry
// point as the upstream binary and registers the same optional components.
package main

import (
	"os"
	_ "time/tzdata" // CronJob .spec.timeZone validation needs the tz database

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // --logging-format=json
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
