"""stack/builders/access.py: the ServiceAccount, Role, RoleBinding and NetworkPolicy of one model service."""

from __future__ import annotations

import pytest

from ansible_collections.inferops.kubernetes.plugins.module_utils.stack import runtimes
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.access.spec import validate
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.builders import access
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.builders.common import selector_labels


def build(**options):
    spec = validate(dict({"name": "bert", "namespace": "serving", "runtime": "triton"}, **options))
    return {o["kind"]: o for o in access.build_objects(spec, runtimes.get(spec["runtime"]))}


def test_account_without_token_and_nothing_granted_by_default():
    objects = build()
    assert sorted(objects) == ["NetworkPolicy", "ServiceAccount"]
    account = objects["ServiceAccount"]
    assert account["metadata"]["name"] == "bert" and account["metadata"]["namespace"] == "serving"
    assert account["automountServiceAccountToken"] is False


def test_role_and_binding_grant_the_rules_to_the_account():
    objects = build(service_account="bert-reader", rbac={"presets": ["read_pods_and_services"]})
    assert objects["Role"]["rules"] == [{"apiGroups": [""], "resources": ["pods", "services"], "verbs": ["get", "list", "watch"]}]
    binding = objects["RoleBinding"]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "bert"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "bert-reader", "namespace": "serving"}]


def test_order_puts_the_account_before_the_binding():
    objects = access.build_objects(validate({"name": "bert", "runtime": "triton", "rbac": {"presets": ["read_pods_and_services"]}}),
                                   runtimes.get("triton"))
    assert [o["kind"] for o in objects] == ["ServiceAccount", "Role", "RoleBinding", "NetworkPolicy"]


def test_policy_lets_ingress_namespaces_to_client_ports_and_prometheus_to_metrics():
    policy = build(network_policy={"ingress_namespaces": ["ingress-nginx", "gateway-system"]})["NetworkPolicy"]["spec"]
    assert policy["podSelector"] == {"matchLabels": {"app.kubernetes.io/instance": "bert", "app.kubernetes.io/component": "model-server"}}
    assert policy["policyTypes"] == ["Ingress"] and "egress" not in policy
    clients, prometheus = policy["ingress"]
    assert clients["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}},
                               {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gateway-system"}}}]
    assert clients["ports"] == [{"protocol": "TCP", "port": "http"}, {"protocol": "TCP", "port": "grpc"}]
    assert prometheus["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
                                   "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}]
    assert prometheus["ports"] == [{"protocol": "TCP", "port": "metrics"}]


@pytest.mark.parametrize("runtime, metrics_port", [("triton", "metrics"), ("torchserve", "metrics"), ("onnxruntime", "metrics")])
def test_metrics_port_is_the_runtimes_own(runtime, metrics_port):
    policy = build(runtime=runtime)["NetworkPolicy"]["spec"]
    assert policy["ingress"][1]["ports"] == [{"protocol": "TCP", "port": metrics_port}]
    assert metrics_port == runtimes.get(runtime).metrics[0]


def test_pod_selector_matches_the_stacks_pod_labels():
    # the selector the stack's Deployment and Service use
    spec = {"name": "bert"}
    for name in ("tensorflow_serving", "torchserve", "triton", "onnxruntime"):
        assert runtimes.get(name).pod_labels("bert") == selector_labels(spec)


def test_kserve_selects_predictor_pods_by_kserves_labels_and_port_numbers():
    policy = build(runtime="kserve", ports={"http": 9080})["NetworkPolicy"]["spec"]
    assert policy["podSelector"] == {"matchLabels": {"serving.kserve.io/inferenceservice": "bert", "component": "predictor"}}
    assert policy["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 9080}, {"protocol": "TCP", "port": 8081}]
    # KServe's model server serves metrics on its REST port
    assert policy["ingress"][1]["ports"] == [{"protocol": "TCP", "port": 9080}]


def test_tf_serving_has_no_metrics_rule_and_empty_namespaces_deny_all_ingress():
    policy = build(runtime="tensorflow_serving", network_policy={"ingress_namespaces": []})["NetworkPolicy"]["spec"]
    assert policy["ingress"] == [] and policy["policyTypes"] == ["Ingress"]


def test_egress_is_limited_only_when_blocks_are_given():
    policy = build(network_policy={"egress": [{"cidr": "10.20.0.0/16", "exclude": ["10.20.5.0/24"], "ports": [9000]}]})
    spec = policy["NetworkPolicy"]["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    dns, store = spec["egress"]
    assert dns == {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                           "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                   "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}
    assert store == {"to": [{"ipBlock": {"cidr": "10.20.0.0/16", "except": ["10.20.5.0/24"]}}],
                     "ports": [{"protocol": "TCP", "port": 9000}]}


def test_disabled_policy_writes_none():
    assert "NetworkPolicy" not in build(network_policy={"enabled": False})


def test_all_kinds_covers_every_object_built():
    spec = validate({"name": "bert", "runtime": "triton", "service_account": "sa", "rbac": {"presets": ["read_pods_and_services"]}})
    built = {(o["apiVersion"], o["kind"], o["metadata"]["name"]) for o in access.build_objects(spec, runtimes.get("triton"))}
    assert built == set(access.all_kinds(spec))
