"""dcgm_exporter against the real control plane (upstream prometheus-operator CRDs, kwok GPU nodes, real DaemonSet
and EndpointSlice controllers), and pod attribution proven end to end on the REAL node: a pod holds a stand-in GPU
(the kubelet's device manager gave it one of the stand-in device plugin's devices), the STAND-IN exporter
(tests/node/go/dcgm-exporter-standin; no DCGM library exists here, its values are made up) asks the real kubelet's
pod-resources API who holds which GPU, and a real Prometheus (tests/cluster/build.sh prometheus) scrapes it with the
endpoint settings of the ServiceMonitor as the API server stored it.

What each test reads is not the module's own word: the stored objects, the API server's label-selector matching,
the EndpointSlice controller's endpoints, the kubelet's pod status, and Prometheus's query API.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml

from k8s_helpers import ROOT, run_module, wait_until

pytestmark = pytest.mark.integration

FLEET = yaml.safe_load((ROOT / "tests" / "cluster" / "fleet.yaml").read_text())
GPU_NODES = {"%s-%d" % (g["name"], i) for g in FLEET["groups"] if g.get("gpu") for i in range(g["count"])}
SELECTOR = "app.kubernetes.io/name=dcgm-exporter"
MONITOR_LABELS = {"release": "kube-prometheus-stack"}
REAL_NODE = "127.0.0.1"
STATE = Path(os.environ.get("INFEROPS_CLUSTER_DIR") or ROOT / ".cluster")
# dcgm-exporter's own default counters (etc/default-counters.csv at 4.5.3-4.8.2), written out here from that file
# rather than imported from the module, so that a changed default in the module fails this test
DEFAULT_SERIES = {
    "DCGM_FI_DEV_SM_CLOCK", "DCGM_FI_DEV_MEM_CLOCK", "DCGM_FI_DEV_MEMORY_TEMP", "DCGM_FI_DEV_GPU_TEMP",
    "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "DCGM_FI_DEV_PCIE_REPLAY_COUNTER",
    "DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_MEM_COPY_UTIL", "DCGM_FI_DEV_ENC_UTIL", "DCGM_FI_DEV_DEC_UTIL",
    "DCGM_FI_DEV_XID_ERRORS", "DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_RESERVED",
    "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL", "DCGM_FI_DEV_VGPU_LICENSE_STATUS", "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS",
    "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", "DCGM_FI_DEV_ROW_REMAP_FAILURE", "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
    "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "DCGM_FI_PROF_DRAM_ACTIVE", "DCGM_FI_PROF_PCIE_TX_BYTES", "DCGM_FI_PROF_PCIE_RX_BYTES",
}
DEFAULT_COUNTER_TYPED = {"DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL",
                         "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS"}


def dcgm_exporter(kubeconfig, check_mode=False, **args):
    return run_module("dcgm_exporter", dict(kubeconfig=kubeconfig, _ansible_diff=True, **args), check_mode=check_mode)


@pytest.fixture
def exporter_namespace(k8s):
    """A namespace name of its own, left for the module to create; deleted afterwards whatever happened."""
    name = "dcgm-%s" % uuid.uuid4().hex[:8]
    yield name
    if k8s.get("v1", "Namespace", name) is not None:
        k8s.resource("v1", "Namespace").delete(name=name)


def test_life_cycle_on_the_gpu_fleet(kubeconfig, k8s, upstream_crds, exporter_namespace):  # pylint: disable=unused-argument
    args = dict(namespace=exporter_namespace, runtime_class_name="", service_monitor_labels=MONITOR_LABELS)
    refs = ["Namespace/%s" % exporter_namespace, "ConfigMap %s/dcgm-exporter-counters" % exporter_namespace,
            "DaemonSet %s/dcgm-exporter" % exporter_namespace, "Service %s/dcgm-exporter" % exporter_namespace,
            "ServiceMonitor %s/dcgm-exporter" % exporter_namespace]

    checked = dcgm_exporter(kubeconfig, check_mode=True, **args)
    assert checked["rc"] == 0, checked.get("msg")
    assert checked["changed"] is True and [o["ref"] for o in checked["objects"]] == refs
    assert {d["after_header"].split()[0] for d in checked["diff"]} >= {"DaemonSet", "ServiceMonitor"}
    assert k8s.get("v1", "Namespace", exporter_namespace) is None, "check mode wrote the namespace"

    applied = dcgm_exporter(kubeconfig, **args)
    assert applied["rc"] == 0, applied.get("msg")
    assert applied["changed"] is True
    assert set(applied["rollout"]["nodes"]) == GPU_NODES
    pods = k8s.list("v1", "Pod", namespace=exporter_namespace, label_selector=SELECTOR)
    assert sorted(p["spec"]["nodeName"] for p in pods) == sorted(GPU_NODES), "one exporter pod per GPU node, the tainted T4 included"
    assert k8s.get("v1", "Namespace", exporter_namespace)["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"

    # as the API server stored them, with the upstream ServiceMonitor CRD's schema
    daemonset = k8s.get("apps/v1", "DaemonSet", "dcgm-exporter", exporter_namespace)
    container = daemonset["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["DCGM_EXPORTER_KUBERNETES"] == "true"
    assert env["DCGM_POD_RESOURCES_KUBELET_SOCKET"] == "/var/lib/kubelet/pod-resources/kubelet.sock"
    volumes = {v["name"]: v for v in daemonset["spec"]["template"]["spec"]["volumes"]}
    assert volumes["pod-resources"]["hostPath"]["path"] == "/var/lib/kubelet/pod-resources"
    counters = k8s.get("v1", "ConfigMap", "dcgm-exporter-counters", exporter_namespace)["data"]["counters.csv"]
    fields = {line.split(",")[0] for line in counters.splitlines() if line and not line.startswith("#")}
    assert fields == DEFAULT_SERIES | {"DCGM_FI_DRIVER_VERSION"}
    monitor = k8s.get("monitoring.coreos.com/v1", "ServiceMonitor", "dcgm-exporter", exporter_namespace)
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    endpoint = monitor["spec"]["endpoints"][0]
    assert endpoint["honorLabels"] is True and endpoint["port"] == "metrics"

    # the ServiceMonitor's selector, matched by the API server, finds exactly the module's Service, and that
    # Service's port of the endpoint's name is 9400
    selector = ",".join("%s=%s" % kv for kv in monitor["spec"]["selector"]["matchLabels"].items())
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == [exporter_namespace]
    services = k8s.list("v1", "Service", namespace=exporter_namespace, label_selector=selector)
    assert [s["metadata"]["name"] for s in services] == ["dcgm-exporter"]
    assert [(p["name"], p["port"]) for p in services[0]["spec"]["ports"]] == [("metrics", 9400)]

    # ... and the EndpointSlice controller put every exporter pod behind that Service's metrics port
    def endpoint_pods():
        slices = k8s.list("discovery.k8s.io/v1", "EndpointSlice", namespace=exporter_namespace,
                          label_selector="kubernetes.io/service-name=dcgm-exporter")
        ports = {(p.get("name"), p.get("port")) for s in slices for p in s.get("ports") or []}
        targets = {e["targetRef"]["name"] for s in slices for e in s.get("endpoints") or [] if e.get("targetRef")}
        return ports == {("metrics", 9400)} and targets == {p["metadata"]["name"] for p in pods}
    wait_until(endpoint_pods, 30, "the exporter pods in the Service's EndpointSlices")

    again = dcgm_exporter(kubeconfig, **args)
    assert again["rc"] == 0 and again["changed"] is False, again.get("msg")
    assert again.get("diff") == []
    rechecked = dcgm_exporter(kubeconfig, check_mode=True, **args)
    assert rechecked["rc"] == 0 and rechecked["changed"] is False

    removal_checked = dcgm_exporter(kubeconfig, check_mode=True, state="absent", **args)
    assert removal_checked["rc"] == 0 and removal_checked["changed"] is True
    assert k8s.get("apps/v1", "DaemonSet", "dcgm-exporter", exporter_namespace) is not None, "check mode deleted"
    removed = dcgm_exporter(kubeconfig, state="absent", **args)
    assert removed["rc"] == 0 and removed["changed"] is True, removed.get("msg")
    assert k8s.get("monitoring.coreos.com/v1", "ServiceMonitor", "dcgm-exporter", exporter_namespace) is None
    wait_until(lambda: k8s.get("v1", "Namespace", exporter_namespace) is None, 60, "namespace %s deleted" % exporter_namespace)
    removed_again = dcgm_exporter(kubeconfig, state="absent", **args)
    assert removed_again["rc"] == 0 and removed_again["changed"] is False


@pytest.mark.parametrize("args, message", [
    ({"service_monitor_labels": {}}, "service_monitor_labels: empty, so the ServiceMonitor carries no label"),
    ({"service_monitor_labels": {"release": True}}, "service_monitor_labels.release: label values are strings"),
    ({"runtime_class_name": "no-such-runtime-class"}, "runtime_class_name: the RuntimeClass no-such-runtime-class does not exist"),
    ({"counters": [{"field": "GPU_UTIL", "type": "gauge", "help": "x"}]}, "counters[0].field: 'GPU_UTIL' is not a DCGM field name"),
    ({"image": "nvcr.io/nvidia/k8s/dcgm-exporter:latest"}, "image:"),
], ids=["empty-selector", "unquoted-true", "missing-runtime-class", "not-a-field", "latest"])
def test_bad_input_is_refused_and_nothing_is_written(kubeconfig, k8s, upstream_crds, exporter_namespace, args, message):  # pylint: disable=unused-argument
    given = dict(namespace=exporter_namespace, runtime_class_name="", service_monitor_labels=MONITOR_LABELS)
    given.update(args)
    result = dcgm_exporter(kubeconfig, **given)
    assert result["rc"] != 0 and result.get("failed") is True
    assert message in result["msg"], result["msg"]
    assert k8s.get("v1", "Namespace", exporter_namespace) is None, "a refused run wrote the namespace"


# --- pod attribution on the real node, scraped by a real Prometheus ---------------------------------------------

def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as response:  # nosec - 127.0.0.1 only
        return response.read().decode()


def _query(prometheus, expr):
    answer = json.loads(_get("%s/api/v1/query?%s" % (prometheus, urllib.parse.urlencode({"query": expr}))))
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def _tool(script, *args):
    """The directory a build script of the tests prints (it builds, or finds the cached build)."""
    return subprocess.run([str(ROOT / "tests" / script)] + list(args), capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def processes():
    """Start processes for the test; each is stopped afterwards (and its log shown when the test failed)."""
    started = []

    def start(argv, log):
        started.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT))  # pylint: disable=consider-using-with
        return started[-1]
    yield start
    for proc in started:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _wait_http(url, proc, what, timeout=30):
    def up():
        assert proc.poll() is None, "%s exited with %s" % (what, proc.returncode)
        try:
            _get(url, timeout=1)
            return True
        except OSError:
            return False
    wait_until(up, timeout, what)


def test_stand_in_exporter_attributes_the_gpu_to_its_pod_in_a_real_prometheus(  # pylint: disable=unused-argument
        kubeconfig, k8s, upstream_crds, namespace, exporter_namespace, processes, tmp_path):
    node = k8s.get("v1", "Node", REAL_NODE)
    if not node or (node["metadata"].get("labels") or {}).get("inferops.io/node") != "real":
        if os.environ.get("INFEROPS_LOCAL_CLUSTER") == "1":
            pytest.fail("the real node %s is not there (tests/cluster/cluster.sh up as root starts it)" % REAL_NODE)
        pytest.skip("INFEROPS_KUBECONFIG names a cluster without the real node")
    prometheus_bin = Path(_tool("cluster/build.sh", "prometheus"))
    standin = Path(_tool("node/tools.sh")) / "dcgm-exporter-standin"
    pause = json.loads((STATE / "images.json").read_text())["pause"]

    # what a scrape of the real exporter is configured from: the module's ServiceMonitor and counters file, as stored
    applied = dcgm_exporter(kubeconfig, namespace=exporter_namespace, runtime_class_name="", service_monitor_labels=MONITOR_LABELS,
                            scrape_interval="1s", wait=False)
    assert applied["rc"] == 0, applied.get("msg")
    endpoint = k8s.get("monitoring.coreos.com/v1", "ServiceMonitor", "dcgm-exporter", exporter_namespace)["spec"]["endpoints"][0]
    counters = tmp_path / "counters.csv"
    counters.write_text(k8s.get("v1", "ConfigMap", "dcgm-exporter-counters", exporter_namespace)["data"]["counters.csv"])

    # a pod that holds one stand-in GPU on the real node
    k8s.resource("v1", "Pod").create(namespace=namespace, body={
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "gpu-holder"},
        "spec": {"automountServiceAccountToken": False, "terminationGracePeriodSeconds": 0,
                 "nodeSelector": {"inferops.io/node": "real"},
                 "tolerations": [{"key": "inferops.io/real-node", "operator": "Exists", "effect": "NoSchedule"}],
                 "containers": [{"name": "model", "image": "%s@%s" % (pause["ref"], pause["digest"]),
                                 "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}})
    wait_until(lambda: (k8s.get("v1", "Pod", "gpu-holder", namespace).get("status") or {}).get("phase") == "Running", 60,
               "pod gpu-holder Running on the real node")
    holder = k8s.get("v1", "Pod", "gpu-holder", namespace)
    assert holder["spec"]["nodeName"] == REAL_NODE

    exporter_port, prometheus_port = _free_port(), _free_port()
    exporter = processes([str(standin), "--pod-resources-socket", str(STATE / "node" / "kubelet" / "root" / "pod-resources" / "kubelet.sock"),
                          "--counters", str(counters), "--listen", "127.0.0.1:%d" % exporter_port, "--node-name", REAL_NODE],
                         (tmp_path / "standin.log").open("w"))
    _wait_http("http://127.0.0.1:%d/health" % exporter_port, exporter, "the stand-in exporter")

    # promtool reads the exposition: it must parse; its lint findings may only be dcgm-exporter's own naming
    # (camelCase labels UUID, modelName, Hostname; counters named without _total, as DCGM names its fields)
    text = _get("http://127.0.0.1:%d/metrics" % exporter_port)
    check = subprocess.run([str(prometheus_bin / "promtool"), "check", "metrics"], input=text, capture_output=True, text=True, check=False)
    findings = set(check.stdout.splitlines() + check.stderr.splitlines()) - {""}
    assert "error while linting" not in check.stdout + check.stderr, findings
    unexpected = {f for f in findings if not (f.endswith("label names should be written in 'snake_case' not 'camelCase'")
                                              or f.endswith('counter metrics should have "_total" suffix')
                                              or f.endswith("metric name should not include type 'counter'"))}
    assert unexpected == set()
    assert {f.split()[0] for f in findings if "_total" in f} == DEFAULT_COUNTER_TYPED

    # a real Prometheus scrapes it with the ServiceMonitor's endpoint settings (a static target instead of the
    # operator's Kubernetes service discovery)
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump({
        "global": {"scrape_interval": endpoint["interval"], "evaluation_interval": endpoint["interval"]},
        "scrape_configs": [{"job_name": "dcgm-exporter", "metrics_path": endpoint["path"], "honor_labels": endpoint["honorLabels"],
                            "scrape_interval": endpoint["interval"], "scrape_timeout": endpoint["interval"],
                            "static_configs": [{"targets": ["127.0.0.1:%d" % exporter_port],
                                                # what the operator's relabelling adds: namespace/pod/container of the exporter pod
                                                "labels": {"namespace": exporter_namespace, "pod": "dcgm-exporter-standin",
                                                           "container": "dcgm-exporter"}}]}],
    }))
    prometheus = processes([str(prometheus_bin / "prometheus"), "--config.file", str(config), "--storage.tsdb.path", str(tmp_path / "tsdb"),
                            "--web.listen-address", "127.0.0.1:%d" % prometheus_port, "--log.level", "warn"],
                           (tmp_path / "prometheus.log").open("w"))
    url = "http://127.0.0.1:%d" % prometheus_port
    _wait_http(url + "/-/ready", prometheus, "Prometheus ready")

    held = wait_until(lambda: _query(url, 'DCGM_FI_DEV_GPU_UTIL{pod="gpu-holder"}'), 30, "the held GPU's utilisation series in Prometheus")
    assert len(held) == 1, held
    labels = held[0]["metric"]
    # the GPU's owner as the API server knows it
    assert (labels["namespace"], labels["pod"], labels["container"]) == (
        holder["metadata"]["namespace"], holder["metadata"]["name"], holder["spec"]["containers"][0]["name"])
    assert labels["Hostname"] == holder["spec"]["nodeName"]
    assert labels["UUID"].startswith("STANDIN-GPU-") and labels["gpu"] == labels["UUID"].rsplit("-", 1)[1]
    assert labels["DCGM_FI_DRIVER_VERSION"] == "stand-in" and "STAND-IN" in labels["modelName"]
    # every GPU the node advertises is exported; the ones nobody holds carry no owner (honor_labels kept the
    # exporter's absent labels from being filled with the target's)
    allocatable = int(k8s.get("v1", "Node", REAL_NODE)["status"]["allocatable"]["nvidia.com/gpu"])
    every = _query(url, "DCGM_FI_DEV_GPU_UTIL")
    assert len(every) == allocatable
    assert sorted(s["metric"].get("pod", "") == "gpu-holder" for s in every) == [False] * (allocatable - 1) + [True]
    # every default counter is a series in Prometheus, by its DCGM name
    names = set(json.loads(_get(url + "/api/v1/label/__name__/values"))["data"])
    assert DEFAULT_SERIES <= names, DEFAULT_SERIES - names
    assert all(_query(url, '%s{pod="gpu-holder", namespace="%s"}' % (n, namespace)) for n in sorted(DEFAULT_SERIES))
