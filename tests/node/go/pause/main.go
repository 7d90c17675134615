// Command pause holds a pod's namespaces for containerd's CRI, as the sandbox image's
// process does: it waits for SIGINT or SIGTERM and exits. The local real node cannot pull
// registry.k8s.io/pause, so this is built here and imported as localhost/inferops/pause.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
}
