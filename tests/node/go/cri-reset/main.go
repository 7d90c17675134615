// Command cri-reset stops and removes every pod sandbox of a CRI runtime, as `crictl rmp -fa`
// does (Debian has no cri-tools package). Stopping a sandbox through CRI lets containerd run the
// CNI teardown, so the pod's address, veth pair and network namespace are released before the
// local node stops.
//
//	cri-reset --endpoint unix:///path/containerd.sock [--timeout 60s]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func main() {
	endpoint := flag.String("endpoint", "", "the CRI runtime's endpoint, unix:///...")
	timeout := flag.Duration("timeout", 60*time.Second, "time for the whole reset")
	flag.Parse()
	if *endpoint == "" {
		fmt.Fprintln(os.Stderr, "cri-reset: --endpoint is required")
		os.Exit(2)
	}
	conn, err := grpc.NewClient(*endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintln(os.Stderr, "cri-reset:", err)
		os.Exit(1)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	client := runtimeapi.NewRuntimeServiceClient(conn)
	list, err := client.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "cri-reset: list pod sandboxes:", err)
		os.Exit(1)
	}
	failed := 0
	for _, sandbox := range list.Items {
		name := sandbox.Metadata.Namespace + "/" + sandbox.Metadata.Name
		if _, err := client.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: sandbox.Id}); err != nil {
			fmt.Fprintf(os.Stderr, "cri-reset: stop %s: %v\n", name, err)
			failed++
			continue
		}
		if _, err := client.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: sandbox.Id}); err != nil {
			fmt.Fprintf(os.Stderr, "cri-reset: remove %s: %v\n", name, err)
			failed++
		}
	}
	fmt.Printf("removed %d of %d pod sandboxes\n", len(list.Items)-failed, len(list.Items))
	if failed > 0 {
		os.Exit(1)
	}
}
