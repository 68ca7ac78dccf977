// Command pause is the e2e node's pod sandbox ("pause") image: it holds the pod's namespaces and does
// nothing else. Built static by hack/build-kube.sh because no image registry is reachable here.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// PID 1 in the sandbox: exit on TERM/INT (pod deletion), ignore everything else.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	<-signals
}
