from __future__ import annotations

import pytest

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.errors import InputError
from ansible_collections.inferops.kubernetes.plugins.module_utils.dcgm_exporter import manifests as dcgm
from ansible_collections.inferops.kubernetes.plugins.module_utils.dcgm_exporter.counters import DEFAULT_COUNTERS, render_counters, valid_counters

LABELS = {"release": "kube-prometheus-stack"}


def build(**spec):
    spec.setdefault("service_monitor_labels", LABELS)
    return {obj["kind"]: obj for obj in dcgm.build_manifests(dcgm.validate(spec))}


def pod_spec(objects):
    return objects["DaemonSet"]["spec"]["template"]["spec"]


def env(objects):
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in pod_spec(objects)["containers"][0]["env"]}


def test_defaults_build_the_five_objects_in_apply_order():
    kinds = [obj["kind"] for obj in dcgm.build_manifests(dcgm.validate({"service_monitor_labels": LABELS}))]
    assert kinds == ["Namespace", "ConfigMap", "DaemonSet", "Service", "ServiceMonitor"]
    objects = build()
    assert {o["metadata"].get("namespace", o["metadata"]["name"]) for o in objects.values()} == {"nvidia-dcgm-exporter"}
    assert objects["Namespace"]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    assert pod_spec(objects)["containers"][0]["image"] == "nvcr.io/nvidia/k8s/dcgm-exporter:4.5.3-4.8.2-distroless"


def test_kubernetes_mode_reads_the_kubelets_pod_resources_socket():
    objects = build(pod_resources_dir="/var/lib/k0s/kubelet/pod-resources/")
    variables = env(objects)
    assert variables["DCGM_EXPORTER_KUBERNETES"] == "true"
    assert variables["DCGM_POD_RESOURCES_KUBELET_SOCKET"] == "/var/lib/kubelet/pod-resources/kubelet.sock"
    assert variables["NODE_NAME"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    assert variables["DCGM_EXPORTER_COLLECTORS"] == "/etc/dcgm-exporter/inferops/counters.csv"
    volumes = {v["name"]: v for v in pod_spec(objects)["volumes"]}
    # the host's directory (trailing slash dropped) at the path the exporter reads
    assert volumes["pod-resources"]["hostPath"] == {"path": "/var/lib/k0s/kubelet/pod-resources", "type": "Directory"}
    mounts = {m["name"]: m for m in pod_spec(objects)["containers"][0]["volumeMounts"]}
    assert mounts["pod-resources"] == {"name": "pod-resources", "mountPath": "/var/lib/kubelet/pod-resources", "readOnly": True}
    assert pod_spec(objects)["automountServiceAccountToken"] is False


def test_placement_on_gpu_nodes_tainted_or_not():
    spec = pod_spec(build(node_selector={"pool": "a100"}, tolerations=[{"key": "dedicated", "operator": "Exists"}]))
    terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert [t["matchExpressions"][0]["key"] for t in terms] == ["nvidia.com/gpu.present", "feature.node.kubernetes.io/pci-10de.present"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
    assert {"key": "dedicated", "operator": "Exists"} in spec["tolerations"]
    assert spec["nodeSelector"] == {"pool": "a100"}
    assert spec["runtimeClassName"] == "nvidia"
    assert "runtimeClassName" not in pod_spec(build(runtime_class_name=""))


def test_service_monitor_selects_the_service_and_keeps_the_exporters_pod_labels():
    objects = build(scrape_interval="15s")
    service, monitor = objects["Service"], objects["ServiceMonitor"]
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert service["spec"]["selector"].items() <= objects["DaemonSet"]["spec"]["template"]["metadata"]["labels"].items()
    assert service["spec"]["ports"] == [{"name": "metrics", "port": 9400, "targetPort": "metrics", "protocol": "TCP"}]
    endpoint = monitor["spec"]["endpoints"][0]
    assert endpoint["port"] == "metrics" and endpoint["interval"] == "15s" and endpoint["honorLabels"] is True
    assert "ServiceMonitor" not in build(service_monitor=False, service_monitor_labels={})


def test_default_counters_are_upstreams_enabled_lines():
    fields = [c[0] for c in DEFAULT_COUNTERS]
    assert len(fields) == len(set(fields)) == 26
    assert "DCGM_FI_DEV_GPU_UTIL" in fields and "DCGM_FI_DEV_FB_USED" in fields and "DCGM_FI_DEV_XID_ERRORS" in fields
    assert [c[0] for c in DEFAULT_COUNTERS if c[1] == "label"] == ["DCGM_FI_DRIVER_VERSION"]
    # commented out upstream: not collected by default
    assert "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL" not in fields and "DCGM_FI_PROF_SM_ACTIVE" not in fields


def test_counters_file_is_dcgm_exporters_csv_and_a_change_rolls_the_pods():
    text = build()["ConfigMap"]["data"]["counters.csv"]
    rows = [line.split(", ", 2) for line in text.splitlines() if not line.startswith("#")]
    assert rows[0] == ["DCGM_FI_DEV_SM_CLOCK", "gauge", "SM clock frequency (in MHz)."]
    assert len(rows) == len(DEFAULT_COUNTERS)
    own = [{"field": "DCGM_FI_DEV_GPU_UTIL", "type": "gauge", "help": "GPU utilization (in %)."}]
    assert render_counters(valid_counters(own)).splitlines()[1:] == ["DCGM_FI_DEV_GPU_UTIL, gauge, GPU utilization (in %)."]
    annotation = "inferops.kubernetes/config-sha256"

    def digest(objects):
        return objects["DaemonSet"]["spec"]["template"]["metadata"]["annotations"][annotation]
    assert digest(build()) != digest(build(counters=own))


@pytest.mark.parametrize("spec, message", [
    ({"service_monitor_labels": {}}, "service_monitor_labels: empty, so the ServiceMonitor carries no label a Prometheus selects it by. "
                                     "Set the labels your Prometheus's serviceMonitorSelector matches"),
    ({"service_monitor_labels": {"release": True}}, "service_monitor_labels.release: label values are strings, got bool True. Quote it"),
    ({"service_monitor_labels": {"-bad": "x"}}, "service_monitor_labels.-bad:"),
    ({"scrape_interval": "30 seconds"}, "scrape_interval: '30 seconds' is not a Prometheus duration. For example 30s or 1m."),
    ({"scrape_interval": "0"}, "scrape_interval: '0' is not a Prometheus duration"),
    ({"collect_interval_ms": 50}, "collect_interval_ms: 50 is not a collection interval of 100 ms or more. Give milliseconds"),
    ({"collect_interval_ms": True}, "collect_interval_ms: True is not a collection interval"),
    ({"pod_resources_dir": "var/lib/kubelet/pod-resources"}, "pod_resources_dir: 'var/lib/kubelet/pod-resources' is not an absolute directory"),
    ({"pod_resources_dir": "/"}, "pod_resources_dir: '/' is not an absolute directory"),
    ({"runtime_class_name": "NVIDIA"}, "runtime_class_name: 'NVIDIA' is not a valid name"),
    ({"namespace": "GPU"}, "namespace: 'GPU' is not a valid name"),
    ({"image": "nvcr.io/nvidia/k8s/dcgm-exporter"}, "image:"),
    ({"image": "nvcr.io/nvidia/k8s/dcgm-exporter:latest"}, "image:"),
    ({"counters": []}, "counters: expected a non-empty list of counters. Leave counters out"),
    ({"counters": [{"field": "DCGM_FI_DEV_GPU_UTIL"}]}, "counters[0]: expected field, type and help"),
    ({"counters": [{"field": "gpu_util", "type": "gauge", "help": "x"}]}, "counters[0].field: 'gpu_util' is not a DCGM field name. Use a DCGM_FI_*"),
    ({"counters": [{"field": "DCGM_FI_DEV_GPU_UTIL", "type": "histogram", "help": "x"}]}, "counters[0].type: 'histogram' is not a counter type"),
    ({"counters": [{"field": "DCGM_FI_DEV_GPU_UTIL", "type": "gauge", "help": "a\nb"}]}, "counters[0].help: expected one line of text"),
    ({"counters": [{"field": "DCGM_FI_DEV_GPU_UTIL", "type": "gauge", "help": "x"}] * 2}, "counters[1].field: DCGM_FI_DEV_GPU_UTIL is listed twice"),
    ({"counters": [{"field": "DCGM_FI_DRIVER_VERSION", "type": "label", "help": "x"}]}, "counters: every counter is of type label"),
    ({"tolerations": {"key": "x"}}, "tolerations: expected a list"),
    ({"tolerations": [{"key": "x", "operator": "Maybe"}]}, "tolerations[0].operator: 'Maybe' is not an operator"),
    ({"node_selector": {"pool": True}}, "node_selector.pool: label values are strings"),
    ({"service_monitor": "yes"}, "service_monitor: expected true or false"),
    ({"scrap_interval": "1s"}, "scrap_interval"),
])
def test_bad_inputs_are_refused_with_the_field_and_the_fix(spec, message):
    given = dict({"service_monitor_labels": LABELS}, **spec)
    with pytest.raises(InputError) as caught:
        dcgm.validate(given)
    assert message in str(caught.value)
