"""Each role refuses a bad input in its preflight, naming the variable, before anything is written.

One ansible-playbook run on localhost, one play per case: the role's preflight tasks (or, where
meta/argument_specs.yml is what refuses, the role's main entry point) with the case's variables. The
checks run before any task that writes, contacts a cluster or changes a host, so a case either fails
in its check or, for the control cases with good inputs, passes the preflight. No cluster is needed.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import yaml

from k8s_helpers import ROOT

pytestmark = pytest.mark.integration

LAYOUTS = {"version": "v1", "mig-configs": {"all-1g.10gb": [{"devices": "all", "mig-enabled": True, "mig-devices": {"1g.10gb": 7}}]}}
MODEL = {"name": "resnet", "pvc": "models", "path": "resnet"}
SERVICE = {"serving_runtime_name": "resnet", "serving_runtime_runtime": "triton", "serving_runtime_model": dict(MODEL, backend="onnxruntime")}
ACCESS = {"access_name": "resnet", "access_runtime": "triton"}
INGRESS = {"ingress_tls_name": "resnet", "ingress_tls_runtime": "triton", "ingress_tls_hosts": ["resnet.example.com"],
           "ingress_tls_ingress": {"class_name": "nginx"}}
AUTOSCALING = {"autoscaling_name": "bert", "autoscaling_runtime": "triton", "autoscaling_max_replicas": 4}
MONITORING = {"monitoring_name": "bert", "monitoring_runtime": "triton", "monitoring_prometheus_labels": {"release": "kube-prometheus-stack"}}
KEDA = {"prometheus_address": "http://prometheus:9090", "signals": [{"name": "gpu_utilization", "target": 80}]}
CPU = {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}

# (case id, role, entry point, variables, expected: None for "passes", else a text the message contains)
CASES = [
    ("container_runtime-good", "container_runtime", "preflight", {}, None),
    ("container_runtime-version-with-v", "container_runtime", "preflight",
     {"container_runtime_toolkit_version": "v1.20.2"}, "container_runtime_toolkit_version must be a plain release number"),
    ("container_runtime-package-revision", "container_runtime", "preflight",
     {"container_runtime_toolkit_version": "1.20.2-1"}, "got '1.20.2-1'"),
    ("container_runtime-binaries-without-dir", "container_runtime", "preflight",
     {"container_runtime_toolkit_source": "binaries"}, "container_runtime_toolkit_binaries_dir is empty"),
    ("container_runtime-runtime-name", "container_runtime", "preflight",
     {"container_runtime_nvidia_runtime_name": "Nvidia_GPU"}, "container_runtime_nvidia_runtime_name must be a DNS-1123 label"),
    ("container_runtime-unknown-runtime", "container_runtime", "main",
     {"container_runtime_name": "docker"}, "container_runtime_name"),
    ("mig-good", "mig", "preflight", {"mig_layout": "all-1g.10gb", "mig_config": LAYOUTS}, None),
    ("mig-no-layout", "mig", "preflight", {"mig_config": LAYOUTS}, "mig_layout is empty"),
    ("mig-two-sources", "mig", "preflight",
     {"mig_layout": "all-1g.10gb", "mig_config": LAYOUTS, "mig_config_file": "/etc/mig.yaml"}, "mig_config and mig_config_file are both set"),
    ("mig-no-source", "mig", "preflight", {"mig_layout": "all-1g.10gb"}, "neither mig_config nor mig_config_file is set"),
    ("serving_runtime-good", "serving_runtime", "preflight",
     {"serving_runtime_name": "resnet", "serving_runtime_runtime": "tensorflow_serving", "serving_runtime_model": MODEL}, None),
    ("serving_runtime-parts-good", "serving_runtime", "preflight",
     dict(SERVICE, serving_runtime_access={"rbac": {"presets": ["read_pods_and_services"]}},
          serving_runtime_ingress={"hosts": ["resnet.example.com"], "ingress": {"class_name": "nginx"}, "tls": {"mode": "self_signed"}},
          serving_runtime_autoscaling={"max_replicas": 3, "hpa": {"metrics": [CPU]}},
          serving_runtime_monitoring={"prometheus_labels": {"release": "kube-prometheus-stack"}, "latency_slo_ms": 200}), None),
    ("serving_runtime-access-wildcard", "serving_runtime", "preflight",
     dict(SERVICE, serving_runtime_access={"rbac": {"rules": [{"api_groups": [""], "resources": ["*"], "verbs": ["get"]}]}}),
     "serving_runtime_access.rbac.rules[0].resources[0]: '*' is a wildcard"),
    ("serving_runtime-ingress-bad-host", "serving_runtime", "preflight",
     dict(SERVICE, serving_runtime_ingress={"hosts": ["Not A Host"], "ingress": {"class_name": "nginx"}}),
     "serving_runtime_ingress.hosts[0]: 'Not A Host'"),
    ("serving_runtime-autoscaling-min-above-max", "serving_runtime", "preflight",
     dict(SERVICE, serving_runtime_autoscaling={"min_replicas": 5, "max_replicas": 3, "hpa": {"metrics": [CPU]}}),
     "serving_runtime_autoscaling.min_replicas: 5 is above max_replicas 3"),
    ("serving_runtime-autoscaling-cooldown-below-load-time", "serving_runtime", "preflight",
     dict(SERVICE, serving_runtime_startup_timeout=900, serving_runtime_autoscaling={"max_replicas": 3, "keda": dict(KEDA, cooldown_period=60)}),
     "serving_runtime_autoscaling.keda.cooldown_period"),
    ("serving_runtime-monitoring-no-prometheus-labels", "serving_runtime", "preflight",
     dict(SERVICE, serving_runtime_monitoring={}), "serving_runtime_monitoring.prometheus_labels: empty"),
    ("serving_runtime-monitoring-extra-rule-does-not-parse", "serving_runtime", "preflight",
     dict(SERVICE, serving_runtime_monitoring={"prometheus_labels": {"release": "kps"}, "extra_rules": [{"alert": "A", "expr": "sum(up"}]}),
     "serving_runtime_monitoring.extra_rules[0].expr: the query does not parse"),
    ("serving_runtime-monitoring-in-render-mode", "serving_runtime", "preflight",
     dict(SERVICE, serving_runtime_mode="render", serving_runtime_render_dir="/tmp/x",
          serving_runtime_monitoring={"prometheus_labels": {"release": "kps"}}),
     "serving_runtime_monitoring: render mode writes no monitoring objects"),
    ("serving_runtime-autoscaling-in-render-mode", "serving_runtime", "preflight",
     dict(SERVICE, serving_runtime_mode="render", serving_runtime_render_dir="/tmp/x",
          serving_runtime_autoscaling={"max_replicas": 3, "hpa": {"metrics": [CPU]}}),
     "serving_runtime_autoscaling: render mode writes no autoscaler"),
    ("serving_runtime-no-name", "serving_runtime", "preflight",
     {"serving_runtime_runtime": "triton", "serving_runtime_model": MODEL}, "serving_runtime_name: expected a name, got ''"),
    ("serving_runtime-no-runtime", "serving_runtime", "preflight",
     {"serving_runtime_name": "resnet", "serving_runtime_model": MODEL}, "missing required arguments: serving_runtime_runtime"),
    ("serving_runtime-model-without-name", "serving_runtime", "preflight",
     {"serving_runtime_name": "resnet", "serving_runtime_runtime": "triton", "serving_runtime_model": {"pvc": "models"}},
     "missing required arguments: name found in serving_runtime_model"),
    ("serving_runtime-two-sources", "serving_runtime", "preflight",
     {"serving_runtime_name": "resnet", "serving_runtime_runtime": "kserve",
      "serving_runtime_model": dict(MODEL, storage_uri="gs://bucket/resnet")}, "serving_runtime_model: both pvc and storage_uri are set"),
    ("serving_runtime-render-without-dir", "serving_runtime", "preflight",
     {"serving_runtime_name": "resnet", "serving_runtime_runtime": "triton", "serving_runtime_model": MODEL,
      "serving_runtime_mode": "render"}, "serving_runtime_mode is render but all of the following are missing: serving_runtime_render_dir"),
    ("serving_runtime-fractional-gpu", "serving_runtime", "preflight",
     {"serving_runtime_name": "resnet", "serving_runtime_runtime": "tensorflow_serving", "serving_runtime_model": MODEL,
      "serving_runtime_gpu": {"count": 0.5}}, "serving_runtime_gpu.count: 0.5 is a fraction of a GPU"),
    ("serving_runtime-boolean-label", "serving_runtime", "preflight",
     {"serving_runtime_name": "resnet", "serving_runtime_runtime": "tensorflow_serving", "serving_runtime_model": MODEL,
      "serving_runtime_node_selector": {"nvidia.com/gpu.present": True}},
     "serving_runtime_node_selector.nvidia.com/gpu.present: label values are strings, got bool True"),
    ("device_plugin-no-sharing", "device_plugin", "preflight",
     {"device_plugin_time_slicing": {"replicas": 0}}, "device_plugin_time_slicing.replicas: must be 1 or more"),
    ("device_plugin-latest", "device_plugin", "preflight",
     {"device_plugin_image": "nvcr.io/nvidia/k8s-device-plugin:latest"}, "device_plugin_image: nvcr.io/nvidia/k8s-device-plugin:latest uses the tag latest"),
    ("device_plugin-no-tag", "device_plugin", "preflight",
     {"device_plugin_image": "registry.local:5000/k8s-device-plugin"}, "device_plugin_image: registry.local:5000/k8s-device-plugin has no tag"),
    ("access-good", "access", "preflight",
     dict(ACCESS, access_rbac={"presets": ["read_pods_and_services"]}, access_network_policy={"egress": [{"cidr": "10.0.0.0/8"}]}), None),
    ("access-no-name", "access", "preflight", {"access_runtime": "triton"}, "access_name: expected a name, got ''"),
    ("access-wildcard", "access", "preflight",
     dict(ACCESS, access_rbac={"rules": [{"api_groups": [""], "resources": ["pods"], "verbs": ["*"]}]}),
     "access_rbac.rules[0].verbs[0]: '*' is a wildcard"),
    ("access-unknown-verb", "access", "preflight",
     dict(ACCESS, access_rbac={"rules": [{"api_groups": [""], "resources": ["pods"], "verbs": ["read"]}]}),
     "access_rbac.rules[0].verbs[0]: 'read' is not a verb"),
    ("access-empty-rule", "access", "preflight", dict(ACCESS, access_rbac={"rules": [{}]}), "access_rbac.rules[0]: an empty rule grants nothing"),
    ("access-bad-cidr", "access", "preflight", dict(ACCESS, access_network_policy={"egress": [{"cidr": "10.0.0.0/33"}]}),
     "access_network_policy.egress[0].cidr: '10.0.0.0/33' is not a CIDR"),
    ("access-namespace", "access", "preflight", dict(ACCESS, access_network_policy={"ingress_namespaces": ["Ingress_Nginx"]}),
     "access_network_policy.ingress_namespaces[0]: 'Ingress_Nginx' is not a DNS-1123 label"),
    ("access-port", "access", "preflight", dict(ACCESS, access_network_policy={"egress": [{"cidr": "10.0.0.0/8", "ports": [70000]}]}),
     "access_network_policy.egress[0].ports[0]: 70000 is not a port number"),
    ("ingress_tls-good", "ingress_tls", "preflight", dict(INGRESS, ingress_tls_tls={"mode": "self_signed"}), None),
    ("ingress_tls-no-hosts", "ingress_tls", "preflight", dict(INGRESS, ingress_tls_hosts=[]), "ingress_tls_hosts: expected a non-empty list"),
    ("ingress_tls-bad-host", "ingress_tls", "preflight", dict(INGRESS, ingress_tls_hosts=["models.*.example.com"]),
     "ingress_tls_hosts[0]: 'models.*.example.com' has a wildcard that is not the whole first label"),
    ("ingress_tls-class-annotation", "ingress_tls", "preflight",
     dict(INGRESS, ingress_tls_ingress={"class_name": "nginx", "annotations": {"kubernetes.io/ingress.class": "nginx"}}),
     "ingress_tls_ingress.annotations.kubernetes.io/ingress.class: the annotation is deprecated"),
    ("ingress_tls-gateway-without-name", "ingress_tls", "preflight", dict(INGRESS, ingress_tls_gateway={"namespace": "gateways"}),
     "ingress_tls_gateway.name: the Gateway the routes attach to has no name"),
    ("ingress_tls-missing-pem", "ingress_tls", "preflight",
     dict(INGRESS, ingress_tls_tls={"mode": "secret", "cert_file": "/nonexistent/tls.crt", "key_file": "/nonexistent/tls.key"}),
     "ingress_tls_tls.cert_file: /nonexistent/tls.crt cannot be read"),
    ("autoscaling-good", "autoscaling", "preflight", dict(AUTOSCALING, autoscaling_keda=KEDA), None),
    ("autoscaling-hpa-and-keda", "autoscaling", "preflight", dict(AUTOSCALING, autoscaling_keda=KEDA, autoscaling_hpa={"metrics": [CPU]}),
     "autoscaling_hpa: given with keda: an HPA and a KEDA ScaledObject would both scale bert"),
    ("autoscaling-gpu-resource-metric", "autoscaling", "preflight",
     dict(AUTOSCALING, autoscaling_hpa={"metrics": [{"type": "Resource", "resource": dict(CPU["resource"], name="nvidia.com/gpu")}]}),
     "autoscaling_hpa.metrics[0].resource.name: nvidia.com/gpu is not a metric the HPA can read"),
    ("autoscaling-min-above-max", "autoscaling", "preflight", dict(AUTOSCALING, autoscaling_keda=KEDA, autoscaling_min_replicas=9),
     "autoscaling_min_replicas: 9 is above max_replicas 4"),
    ("autoscaling-inline-redis-password", "autoscaling", "preflight",
     dict(AUTOSCALING, autoscaling_keda={"redis": {"address": "redis:6379", "list_name": "q", "password": "s3cret-value"}}),
     "autoscaling_keda.redis.password: an inline password"),
    ("monitoring-good", "monitoring", "preflight", MONITORING, None),
    ("monitoring-no-prometheus-labels", "monitoring", "preflight", dict(MONITORING, monitoring_prometheus_labels={}),
     "monitoring_prometheus_labels: empty"),
    ("monitoring-tf-serving-without-metrics", "monitoring", "preflight", dict(MONITORING, monitoring_runtime="tensorflow_serving"),
     "monitoring_runtime: tensorflow_serving as inference_stack runs it serves no metrics endpoint"),
    ("monitoring-timeout-above-interval", "monitoring", "preflight", dict(MONITORING, monitoring_scrape_timeout="1m"),
     "monitoring_scrape_timeout: 1m is longer than scrape_interval 30s"),
]


def _play(case_id, role, entry, variables):
    include = {"name": "inferops.kubernetes." + role}
    if entry != "main":
        include["tasks_from"] = entry
    record = "{{ outcomes | default({}) | combine({%r: %s}) }}"
    return {
        "name": case_id,
        "hosts": "localhost",
        "gather_facts": False,
        "tasks": [{
            "name": "Case " + case_id,
            "block": [
                {"name": "The role", "ansible.builtin.include_role": include, "vars": variables},
                {"name": "Passed", "ansible.builtin.set_fact": {"outcomes": record % (case_id, "{'ok': true}")}},
            ],
            "rescue": [{"name": "Failed", "ansible.builtin.set_fact": {"outcomes": record % (
                case_id, "{'ok': false, 'task': ansible_failed_task.name, 'msg': ansible_failed_result.msg | default('')}")}}],
        }],
    }


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("role-inputs")
    out = tmp / "outcomes.json"
    plays = [{"name": "Facts", "hosts": "localhost", "gather_facts": True, "gather_subset": ["min"], "tasks": []}]
    plays += [_play(case_id, role, entry, variables) for case_id, role, entry, variables, expected in CASES]
    plays.append({"name": "Outcomes", "hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "Write them", "ansible.builtin.copy": {"content": "{{ outcomes | to_nice_json }}", "dest": str(out), "mode": "0600"}}]})
    playbook = tmp / "role_inputs.yml"
    playbook.write_text(yaml.safe_dump(plays, sort_keys=False))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".tmp" / "collections"),
               ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           "-e", "ansible_python_interpreter=" + str(ROOT / ".venv" / "bin" / "python"), str(playbook)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    # Only the outcomes file is written: every case stopped in (or passed) a check that changes nothing.
    assert "changed=1 " in proc.stdout, proc.stdout[-2000:]
    return json.loads(out.read_text())


@pytest.mark.parametrize("case_id, role, entry, variables, expected", CASES, ids=[case[0] for case in CASES])
def test_role_preflight(outcomes, case_id, role, entry, variables, expected):
    outcome = outcomes[case_id]
    if expected is None:
        assert outcome == {"ok": True}
    else:
        assert outcome["ok"] is False and expected in outcome["msg"], outcome
