"""The shared Kubernetes access layer against a real API server."""

from __future__ import annotations

import base64
import tempfile
import uuid

import pytest
import yaml

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.apply import REDACTED, apply_object, apply_objects
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.client import K8sClient
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.errors import (
    K8sAuthError,
    K8sConflictError,
    K8sCrdMissingError,
)
from k8s_helpers import run_module

pytestmark = pytest.mark.integration


def configmap(namespace, data, name="settings"):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}, "data": data}


def test_check_mode_apply_and_idempotence(k8s, namespace):
    desired = configmap(namespace, {"model": "resnet50", "replicas": "2"})

    planned = apply_object(k8s, desired, check_mode=True)
    assert planned["changed"] is True and planned["created"] is True
    assert planned["diff"]["before"] == {} and planned["diff"]["after"]["data"] == desired["data"]
    assert k8s.get("v1", "ConfigMap", "settings", namespace) is None  # the dry run wrote nothing

    applied = apply_object(k8s, desired)
    assert applied["changed"] is True
    version = k8s.get("v1", "ConfigMap", "settings", namespace)["metadata"]["resourceVersion"]
    for noisy in ("managedFields", "resourceVersion", "uid", "creationTimestamp"):
        assert noisy not in applied["diff"]["after"]["metadata"]

    assert apply_object(k8s, desired, check_mode=True)["changed"] is False
    assert apply_object(k8s, desired)["changed"] is False
    assert k8s.get("v1", "ConfigMap", "settings", namespace)["metadata"]["resourceVersion"] == version

    changed = configmap(namespace, {"model": "resnet50", "replicas": "3"})
    planned = apply_object(k8s, changed, check_mode=True)
    assert planned["changed"] is True
    assert planned["diff"]["before"]["data"]["replicas"] == "2" and planned["diff"]["after"]["data"]["replicas"] == "3"
    assert k8s.get("v1", "ConfigMap", "settings", namespace)["metadata"]["resourceVersion"] == version


def test_field_conflict_needs_force(k8s, namespace):
    apply_object(k8s, configmap(namespace, {"replicas": "2"}))
    apply_object(k8s, configmap(namespace, {"replicas": "5"}), field_manager="someone-else", force_conflicts=True)
    with pytest.raises(K8sConflictError) as err:
        apply_object(k8s, configmap(namespace, {"replicas": "2"}))
    assert "force_conflicts" in err.value.msg and "someone-else" in err.value.msg
    assert apply_object(k8s, configmap(namespace, {"replicas": "2"}), force_conflicts=True)["changed"] is True


def test_missing_crd_names_what_to_install(k8s):
    policy = {"apiVersion": "nvidia.com/v1", "kind": "ClusterPolicy", "metadata": {"name": "gpu-cluster-policy"}}
    with pytest.raises(K8sCrdMissingError) as err:
        apply_object(k8s, policy)
    assert "install the NVIDIA GPU Operator first" in err.value.msg


def test_upstream_crds_serve_their_kinds(k8s, namespace, upstream_crds):
    """The CRDs installed from the projects' Go modules accept real objects (server-side dry run)."""
    objects = [
        {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "llm", "namespace": namespace},
         "spec": {"scaleTargetRef": {"name": "llm"}, "triggers": [{"type": "prometheus", "metadata": {
             "serverAddress": "http://prometheus:9090", "query": "sum(rate(requests[1m]))", "threshold": "10"}}]}},
        {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor", "metadata": {"name": "llm", "namespace": namespace},
         "spec": {"selector": {"matchLabels": {"app": "llm"}}, "endpoints": [{"port": "metrics", "path": "/metrics"}]}},
        {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "metadata": {"name": "llm", "namespace": namespace},
         "spec": {"predictor": {"model": {"modelFormat": {"name": "onnx"}, "storageUri": "pvc://models/llm"}}}},
        {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "llm", "namespace": namespace},
         "spec": {"secretName": "llm-tls", "dnsNames": ["llm.example.com"], "issuerRef": {"name": "selfsigned", "kind": "Issuer"}}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "llm", "namespace": namespace},
         "spec": {"rules": [{"backendRefs": [{"name": "llm", "port": 8080}]}]}},
    ]
    outcome = apply_objects(k8s, objects, check_mode=True)
    assert [r["created"] for r in outcome["results"]] == [True] * len(objects)
    for obj in objects:
        assert k8s.get(obj["apiVersion"], obj["kind"], "llm", namespace) is None


def test_crd_is_established_before_its_objects(k8s):
    group = "it-%s.inferops.example" % uuid.uuid4().hex[:6]
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.%s" % group},
        "spec": {
            "group": group,
            "scope": "Cluster",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                "type": "object", "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}}],
        },
    }
    widget = {"apiVersion": "%s/v1" % group, "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"size": 3}}
    try:
        # the object comes first in the list: the layer still applies the CRD first
        planned = apply_objects(k8s, [widget, crd], check_mode=True)
        assert planned["changed"] and [r["ref"] for r in planned["results"]] == ["CustomResourceDefinition/widgets.%s" % group, "Widget/w1"]
        assert k8s.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", crd["metadata"]["name"]) is None
        applied = apply_objects(k8s, [widget, crd])
        assert applied["changed"]
        assert k8s.get("%s/v1" % group, "Widget", "w1")["spec"] == {"size": 3}
        assert apply_objects(k8s, [widget, crd])["changed"] is False
    finally:
        k8s.resource("apiextensions.k8s.io/v1", "CustomResourceDefinition").delete(name=crd["metadata"]["name"])


@pytest.fixture
def limited_token(k8s, namespace):
    """A real token of a ServiceAccount that may list pods in its namespace and nothing else."""
    apply_objects(k8s, [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "reader", "namespace": namespace}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "pod-reader", "namespace": namespace},
         "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "reader", "namespace": namespace},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
         "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": namespace}]},
    ])
    token_resource = k8s.resource("v1", "ServiceAccount").subresources["token"]
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 600}}
    return token_resource.create(body=request, name="reader", namespace=namespace).status.token


def _ca_file(k8s):
    handle = tempfile.NamedTemporaryFile("w", suffix=".crt", delete=False)
    ca = k8s.configuration.ssl_ca_cert
    if ca:
        with open(ca) as source:
            handle.write(source.read())
    handle.close()
    return handle.name if ca else None


def test_forbidden_says_which_verb_on_which_resource(k8s, namespace, limited_token):
    params = {"host": k8s.host, "api_key": limited_token, "ca_cert": _ca_file(k8s), "validate_certs": bool(k8s.configuration.ssl_ca_cert)}
    limited = K8sClient(params)
    assert limited.list("v1", "Pod", namespace=namespace) == []
    with pytest.raises(K8sAuthError) as err:
        limited.list("v1", "Node")
    assert "403 Forbidden" in err.value.msg and "may not list Node" in err.value.msg
    assert 'cannot list resource "nodes"' in err.value.msg

    result = run_module("gpu_inventory", params)
    assert result["rc"] == 1 and "may not list Node" in result["msg"]
    assert limited_token not in str(result)


def test_bad_token_is_unauthorized(k8s):
    params = {"host": k8s.host, "api_key": "not-a-token", "validate_certs": False}
    result = run_module("gpu_inventory", params)
    assert result["rc"] == 1 and "401 Unauthorized" in result["msg"]
    assert "not-a-token" not in str(result)


def test_unknown_context_of_a_real_kubeconfig(kubeconfig):
    with open(kubeconfig) as handle:
        known = [c["name"] for c in yaml.safe_load(handle)["contexts"]]
    result = run_module("gpu_inventory", {"kubeconfig": kubeconfig, "context": "no-such-context"})
    assert result["rc"] == 1
    assert "context: no-such-context is not a context" in result["msg"]
    assert all(name in result["msg"] for name in known)


def test_secret_values_never_reach_results_or_diffs(k8s, namespace):
    encoded = base64.b64encode(b"hunter2").decode()
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "token", "namespace": namespace},
              "type": "Opaque", "data": {"token": encoded}}
    for check_mode in (True, False):
        outcome = apply_object(k8s, secret, check_mode=check_mode)
        assert outcome["changed"] is True
        assert "hunter2" not in str(outcome) and encoded not in str(outcome)
        assert outcome["diff"]["after"]["data"] == {"token": REDACTED}
    assert apply_object(k8s, secret)["changed"] is False
    rotated = dict(secret, data={"token": base64.b64encode(b"hunter3").decode()})
    outcome = apply_object(k8s, rotated, check_mode=True)
    assert outcome["changed"] is True  # a changed value is still seen, though not shown
    assert rotated["data"]["token"] not in str(outcome)


def test_check_mode_in_a_namespace_the_batch_creates(k8s):
    """The API refuses a dry run inside a namespace that does not exist; the batch reports it as to be created."""
    name = "it-new-%s" % uuid.uuid4().hex[:6]
    objects = [configmap(name, {"k": "v"}), {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}]
    planned = apply_objects(k8s, objects, check_mode=True)
    assert [(r["ref"], r["created"], r["changed"]) for r in planned["results"]] == [
        ("Namespace/%s" % name, True, True), ("ConfigMap %s/settings" % name, True, True)]
    assert k8s.get("v1", "Namespace", name) is None
    try:
        assert apply_objects(k8s, objects)["changed"] is True
        assert k8s.get("v1", "ConfigMap", "settings", name)["data"] == {"k": "v"}
        assert apply_objects(k8s, objects, check_mode=True)["changed"] is False
    finally:
        k8s.resource("v1", "Namespace").delete(name=name)
