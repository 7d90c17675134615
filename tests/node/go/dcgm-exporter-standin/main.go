// Command dcgm-exporter-standin is a STAND-IN for NVIDIA's dcgm-exporter on the local cluster's real
// node, which has no GPU and no DCGM library. It serves, on /metrics in Prometheus's text format, the
// series dcgm-exporter serves in Kubernetes mode: one per field of a dcgm-exporter counters file and
// per stand-in GPU, named after the DCGM field, with dcgm-exporter's labels (gpu, UUID, pci_bus_id,
// device, modelName, Hostname, the counters file's label fields) and, for a GPU that a container
// holds, namespace, pod and container.
//
// The attribution is real: on every scrape it asks the REAL kubelet's pod-resources API (v1, List)
// which container holds which device of the GPU resource, as dcgm-exporter does, and the device IDs
// are those the stand-in device plugin advertised (STANDIN-GPU-<n>), used as the GPUs' UUIDs.
//
// The VALUES ARE MADE UP: plausible numbers that change over time, so that rates and alerts have
// something to work on. Every series' help text and the modelName label say so. On a GPU machine the
// values would come from NVML (nvmlDeviceGetUtilizationRates, nvmlDeviceGetMemoryInfo, ...) in
// value() below; this program does not do that.
//
//	dcgm-exporter-standin --pod-resources-socket PATH --counters FILE [--listen 127.0.0.1:9400]
//	    [--gpus 4] [--node-name NAME] [--resource nvidia.com/gpu]
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	podresources "k8s.io/kubelet/pkg/apis/podresources/v1"
)

// counter is one line of a dcgm-exporter counters file: DCGM field, Prometheus type, help.
type counter struct {
	field, kind, help string
}

type owner struct {
	namespace, pod, container string
}

type exporter struct {
	counters []counter
	socket   string
	resource string
	gpus     int
	node     string
	start    time.Time
}

func readCounters(path string) ([]counter, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var counters []counter
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.SplitN(line, ",", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("%s: %q is not FIELD, TYPE, HELP", path, line)
		}
		c := counter{strings.TrimSpace(parts[0]), strings.TrimSpace(parts[1]), strings.TrimSpace(parts[2])}
		if c.kind != "gauge" && c.kind != "counter" && c.kind != "label" {
			return nil, fmt.Errorf("%s: %s has the type %q", path, c.field, c.kind)
		}
		counters = append(counters, c)
	}
	return counters, scanner.Err()
}

// owners asks the kubelet which container holds each device of the GPU resource.
func (e *exporter) owners(ctx context.Context) (map[string]owner, error) {
	conn, err := grpc.NewClient("unix://"+e.socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := podresources.NewPodResourcesListerClient(conn).List(ctx, &podresources.ListPodResourcesRequest{})
	if err != nil {
		return nil, err
	}
	held := map[string]owner{}
	for _, pod := range resp.GetPodResources() {
		for _, c := range pod.GetContainers() {
			for _, d := range c.GetDevices() {
				if d.GetResourceName() != e.resource {
					continue
				}
				for _, id := range d.GetDeviceIds() {
					held[id] = owner{pod.GetNamespace(), pod.GetName(), c.GetName()}
				}
			}
		}
	}
	return held, nil
}

// value is MADE UP: where a real exporter reads the field from DCGM (or NVML), the stand-in computes
// a plausible number from the GPU's index, whether a container holds it, and the time.
func (e *exporter) value(field string, gpu int, busy bool, now time.Time) float64 {
	seconds := now.Sub(e.start).Seconds()
	load := 3.0
	if busy {
		load = 55 + float64((gpu*13+int(seconds))%40)
	}
	switch field {
	case "DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_MEM_COPY_UTIL":
		return load
	case "DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_MEMORY_TEMP":
		return 35 + load/4
	case "DCGM_FI_DEV_POWER_USAGE":
		return 60 + 3*load
	case "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION":
		return (60 + 3*load) * seconds * 1000
	case "DCGM_FI_DEV_SM_CLOCK":
		return 1410
	case "DCGM_FI_DEV_MEM_CLOCK":
		return 1593
	case "DCGM_FI_DEV_FB_USED":
		if busy {
			return 20480
		}
		return 0
	case "DCGM_FI_DEV_FB_FREE":
		if busy {
			return 81920 - 20480 - 512
		}
		return 81920 - 512
	case "DCGM_FI_DEV_FB_RESERVED":
		return 512
	}
	if strings.HasPrefix(field, "DCGM_FI_PROF_") && !strings.Contains(field, "BYTES") {
		return load / 100
	}
	return 0
}

func quote(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`).Replace(s)
}

func (e *exporter) metrics(w http.ResponseWriter, r *http.Request) {
	held, err := e.owners(r.Context())
	if err != nil {
		http.Error(w, "pod-resources List: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	now := time.Now()
	var labelFields []string
	for _, c := range e.counters {
		if c.kind == "label" {
			labelFields = append(labelFields, c.field)
		}
	}
	sort.Strings(labelFields)
	var b strings.Builder
	for _, c := range e.counters {
		if c.kind == "label" {
			continue
		}
		fmt.Fprintf(&b, "# HELP %s %s (STAND-IN value, not measured)\n# TYPE %s %s\n", c.field, quote(c.help), c.field, c.kind)
		for gpu := 0; gpu < e.gpus; gpu++ {
			uuid := fmt.Sprintf("STANDIN-GPU-%d", gpu)
			o, busy := held[uuid]
			labels := fmt.Sprintf(`gpu="%d",UUID="%s",pci_bus_id="00000000:%02X:00.0",device="nvidia%d",modelName="INFEROPS STAND-IN (no GPU)",Hostname="%s"`,
				gpu, uuid, 0x10+gpu, gpu, quote(e.node))
			for _, f := range labelFields {
				labels += fmt.Sprintf(`,%s="stand-in"`, f)
			}
			if busy {
				labels += fmt.Sprintf(`,namespace="%s",pod="%s",container="%s"`, quote(o.namespace), quote(o.pod), quote(o.container))
			}
			fmt.Fprintf(&b, "%s{%s} %g\n", c.field, labels, e.value(c.field, gpu, busy, now))
		}
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}

func main() {
	socket := flag.String("pod-resources-socket", "/var/lib/kubelet/pod-resources/kubelet.sock", "the kubelet's pod-resources socket")
	countersFile := flag.String("counters", "", "a dcgm-exporter counters file (DCGM field, Prometheus type, help)")
	listen := flag.String("listen", "127.0.0.1:9400", "address to serve /metrics on")
	gpus := flag.Int("gpus", 4, "stand-in GPUs, STANDIN-GPU-0 ... (as the stand-in device plugin advertises)")
	node := flag.String("node-name", os.Getenv("NODE_NAME"), "the Hostname label")
	resource := flag.String("resource", "nvidia.com/gpu", "the extended resource whose devices are GPUs")
	flag.Parse()
	if *countersFile == "" {
		log.Fatal("--counters is required")
	}
	counters, err := readCounters(*countersFile)
	if err != nil {
		log.Fatal(err)
	}
	if *node == "" {
		*node, _ = os.Hostname()
	}
	e := &exporter{counters: counters, socket: *socket, resource: *resource, gpus: *gpus, node: *node, start: time.Now()}
	http.HandleFunc("/metrics", e.metrics)
	http.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("OK")) })
	log.Printf("dcgm-exporter STAND-IN: %d fields, %d stand-in GPUs, serving http://%s/metrics", len(counters), *gpus, *listen)
	log.Fatal(http.ListenAndServe(*listen, nil))
}
