// Command device-plugin is a STAND-IN for the NVIDIA device plugin on the local cluster's real
// node, which has no GPU. It speaks the kubelet's device plugin API (v1beta1, from
// k8s.io/kubelet) for real: it registers nvidia.com/gpu with the kubelet and advertises a fixed
// number of healthy devices, so that the scheduler places a pod that asks for a GPU on the node
// and the kubelet admits it. Allocate answers with NVIDIA_VISIBLE_DEVICES naming the devices, as
// the NVIDIA plugin's envvar strategy does; no device node is mounted, and the server inside runs
// on CPU.
//
//	device-plugin --plugin-dir DIR [--devices N] [--resource nvidia.com/gpu]
//
// When the kubelet restarts it removes the sockets in DIR: the stand-in then serves and registers
// again, as real plugins do.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	pluginapi "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"
)

const socketName = "inferops-standin-gpu.sock"

type plugin struct {
	pluginapi.UnimplementedDevicePluginServer
	devices []*pluginapi.Device
	stop    chan struct{}
}

func (p *plugin) GetDevicePluginOptions(context.Context, *pluginapi.Empty) (*pluginapi.DevicePluginOptions, error) {
	return &pluginapi.DevicePluginOptions{}, nil
}

func (p *plugin) ListAndWatch(_ *pluginapi.Empty, stream pluginapi.DevicePlugin_ListAndWatchServer) error {
	if err := stream.Send(&pluginapi.ListAndWatchResponse{Devices: p.devices}); err != nil {
		return err
	}
	select {
	case <-p.stop:
	case <-stream.Context().Done():
	}
	return nil
}

func (p *plugin) GetPreferredAllocation(context.Context, *pluginapi.PreferredAllocationRequest) (*pluginapi.PreferredAllocationResponse, error) {
	return &pluginapi.PreferredAllocationResponse{}, nil
}

func (p *plugin) Allocate(_ context.Context, req *pluginapi.AllocateRequest) (*pluginapi.AllocateResponse, error) {
	resp := &pluginapi.AllocateResponse{}
	for _, c := range req.ContainerRequests {
		resp.ContainerResponses = append(resp.ContainerResponses, &pluginapi.ContainerAllocateResponse{
			Envs: map[string]string{"NVIDIA_VISIBLE_DEVICES": strings.Join(c.DevicesIds, ",")},
		})
	}
	return resp, nil
}

func (p *plugin) PreStartContainer(context.Context, *pluginapi.PreStartContainerRequest) (*pluginapi.PreStartContainerResponse, error) {
	return &pluginapi.PreStartContainerResponse{}, nil
}

// serve starts the gRPC server on the plugin socket and registers it with the kubelet.
func serve(dir, resource string, p *plugin) (*grpc.Server, error) {
	path := filepath.Join(dir, socketName)
	_ = os.Remove(path)
	lis, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	server := grpc.NewServer()
	pluginapi.RegisterDevicePluginServer(server, p)
	go func() { _ = server.Serve(lis) }()

	conn, err := grpc.NewClient("unix://"+filepath.Join(dir, "kubelet.sock"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		server.Stop()
		return nil, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = pluginapi.NewRegistrationClient(conn).Register(ctx, &pluginapi.RegisterRequest{
		Version:      pluginapi.Version,
		Endpoint:     socketName,
		ResourceName: resource,
	})
	if err != nil {
		server.Stop()
		return nil, fmt.Errorf("register %s with the kubelet: %w", resource, err)
	}
	return server, nil
}

func main() {
	dir := flag.String("plugin-dir", pluginapi.DevicePluginPath, "the kubelet's device plugin directory")
	count := flag.Int("devices", 4, "devices to advertise")
	resource := flag.String("resource", "nvidia.com/gpu", "extended resource name")
	flag.Parse()

	devices := make([]*pluginapi.Device, *count)
	for i := range devices {
		devices[i] = &pluginapi.Device{ID: fmt.Sprintf("STANDIN-GPU-%d", i), Health: pluginapi.Healthy}
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)

	for {
		p := &plugin{devices: devices, stop: make(chan struct{})}
		server, err := serve(*dir, *resource, p)
		if err != nil {
			log.Printf("%v; retrying", err)
		} else {
			log.Printf("registered %s with %d devices", *resource, len(devices))
		}
		// Serve until the kubelet removes the socket (it restarted) or a signal arrives.
		for server != nil {
			select {
			case <-signals:
				close(p.stop)
				server.Stop()
				return
			case <-time.After(time.Second):
			}
			if _, err := os.Stat(filepath.Join(*dir, socketName)); err != nil {
				log.Printf("plugin socket gone (kubelet restarted): registering again")
				close(p.stop)
				server.Stop()
				server = nil
			}
		}
		select {
		case <-signals:
			return
		case <-time.After(time.Second):
		}
	}
}
