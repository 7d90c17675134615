from __future__ import annotations

import json

import pytest
import yaml
from kubernetes.client.rest import ApiException

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.apply import remove_objects, strip_noise
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.errors import with_retries
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.client import K8sClient, build_configuration
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.errors import (
    K8sAuthError,
    K8sConfigError,
    K8sConflictError,
    K8sCrdMissingError,
    K8sUnreachableError,
    missing_crd_error,
    translate_api_error,
)


def kubeconfig_dict(server="https://127.0.0.1:1", contexts=("one", "two")):
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "not-a-real-token"}}],
        "contexts": [{"name": name, "context": {"cluster": "c", "user": "u"}} for name in contexts],
        "current-context": contexts[0],
    }


@pytest.fixture
def kubeconfig_file(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig_dict()))
    return str(path)


def api_exception(status, message, reason=None):
    exc = ApiException(status=status, reason=reason or "x")
    exc.body = json.dumps({"kind": "Status", "message": message, "reason": reason})
    return exc


def test_missing_kubeconfig_names_the_path(tmp_path):
    missing = tmp_path / "nope" / "config"
    with pytest.raises(K8sConfigError) as err:
        build_configuration({"kubeconfig": str(missing)})
    assert str(missing) in err.value.msg
    assert "kubeconfig" in err.value.msg


def test_unknown_context_lists_known_ones(kubeconfig_file):
    with pytest.raises(K8sConfigError) as err:
        build_configuration({"kubeconfig": kubeconfig_file, "context": "prod"})
    assert "context: prod is not a context" in err.value.msg
    assert "one, two" in err.value.msg


def test_known_context_and_dict_kubeconfig(kubeconfig_file):
    assert build_configuration({"kubeconfig": kubeconfig_file, "context": "two"}).host == "https://127.0.0.1:1"
    config = build_configuration({"kubeconfig": kubeconfig_dict("https://10.9.8.7:6443")})
    assert config.host == "https://10.9.8.7:6443"


def test_host_and_api_key_override(kubeconfig_file):
    config = build_configuration({"kubeconfig": kubeconfig_file, "host": "https://127.0.0.1:2", "api_key": "s3cret"})
    assert config.host == "https://127.0.0.1:2"
    assert config.api_key == {"authorization": "Bearer s3cret"}


def test_missing_ca_cert_file(kubeconfig_file, tmp_path):
    with pytest.raises(K8sConfigError, match="ca_cert: the file"):
        build_configuration({"kubeconfig": kubeconfig_file, "ca_cert": str(tmp_path / "ca.pem")})


def test_no_cluster_given(monkeypatch, tmp_path):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    with pytest.raises(K8sConfigError, match="No cluster given"):
        build_configuration({})


def test_unreachable_api_server_is_named(kubeconfig_file):
    # Port 1 on loopback: nothing listens, the connection is refused for real.
    client = K8sClient({"kubeconfig": kubeconfig_file})
    with pytest.raises(K8sUnreachableError) as err:
        client.resource("v1", "Node")
    assert "https://127.0.0.1:1" in err.value.msg and "unreachable" in err.value.msg


def test_translate_401_403():
    err = translate_api_error(api_exception(401, "Unauthorized"), "list", "Node", context="kwok")
    assert isinstance(err, K8sAuthError) and "401" in err.msg and "context kwok" in err.msg
    message = 'nodes is forbidden: User "system:serviceaccount:ml:reader" cannot list resource "nodes"'
    err = translate_api_error(api_exception(403, message, "Forbidden"), "list", "Node")
    assert isinstance(err, K8sAuthError)
    assert "may not list Node" in err.msg and message in err.msg and "RBAC" in err.msg


def test_a_terminating_namespace_is_not_called_an_rbac_problem():
    # the API server's own words when a namespace deleted a moment ago is still emptying
    message = ('configmaps "cfg" is forbidden: unable to create new content in namespace ml because it is being terminated')
    err = translate_api_error(api_exception(403, message, "Forbidden"), "apply", "ConfigMap", name="cfg", namespace="ml")
    assert not isinstance(err, K8sAuthError)
    assert "still being deleted" in err.msg and "RBAC" not in err.msg and message in err.msg


def test_translate_apply_conflict_asks_for_a_decision():
    exc = api_exception(409, 'Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas', "Conflict")
    err = translate_api_error(exc, "apply", "Deployment", name="web", namespace="ml")
    assert isinstance(err, K8sConflictError)
    assert "force_conflicts" in err.msg and "Deployment ml/web" in err.msg


def test_missing_crd_message_says_what_to_install():
    err = missing_crd_error("keda.sh/v1alpha1", "ScaledObject")
    assert isinstance(err, K8sCrdMissingError) and "install KEDA first" in err.msg
    assert "install the CustomResourceDefinition" in missing_crd_error("example.com/v1", "Widget").msg


def test_with_retries_retries_optimistic_conflicts():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise translate_api_error(api_exception(409, "the object has been modified"), "update", "Node", name="n")
        return "ok"

    assert with_retries(flaky, sleep=lambda s: None) == "ok"
    assert len(calls) == 3


def test_with_retries_does_not_retry_apply_conflicts_and_gives_up():
    calls = []

    def conflict():
        calls.append(1)
        raise translate_api_error(api_exception(409, "Apply failed with 2 conflicts"), "apply", "Service", name="s")

    with pytest.raises(K8sConflictError):
        with_retries(conflict, sleep=lambda s: None)
    assert len(calls) == 1

    def always_busy():
        calls.append(1)
        raise translate_api_error(api_exception(503, "etcd leader changed"), "get", "Node", name="n")

    calls.clear()
    with pytest.raises(Exception, match="503"):
        with_retries(always_busy, retries=2, sleep=lambda s: None)
    assert len(calls) == 3


def test_strip_noise_drops_server_bookkeeping_only():
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "x", "namespace": "ml", "resourceVersion": "12", "generation": 3, "uid": "u",
            "managedFields": [{}], "creationTimestamp": "t", "labels": {"a": "b"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
        },
        "data": {"k": "v"},
    }
    assert strip_noise(obj) == {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "x", "namespace": "ml", "labels": {"a": "b"}}, "data": {"k": "v"},
    }
    assert obj["metadata"]["resourceVersion"] == "12"  # the input is left alone
    assert strip_noise(None) == {}


def test_an_admission_webhook_refusal_is_not_called_an_rbac_problem():
    # KServe's validating webhook (controller-runtime answers a denial with 403), as the API server relays it
    message = ('admission webhook "inferenceservice-validator.inferops-local.kserve.io" denied the request: exactly one of '
               '[SKLearn, XGBoost, Model, PodSpec] must be specified in PredictorSpec')
    err = translate_api_error(api_exception(403, message, "Forbidden"), "apply", "InferenceService", name="iris", namespace="ml")
    assert not isinstance(err, K8sAuthError)
    assert "RBAC" in err.msg and "not RBAC" in err.msg
    assert "inferenceservice-validator.inferops-local.kserve.io" in err.msg and "exactly one of" in err.msg
    assert err.details["webhook"] == "inferenceservice-validator.inferops-local.kserve.io" and err.details["status"] == 403


class _Stored:
    """One stored object: get, a server-side apply that records the body (or raises refusal), delete."""

    def __init__(self, obj, refusal=None):
        self.obj, self.refusal, self.applied, self.deleted = obj, refusal, [], []

    def namespaced(self, api_version, kind):
        return True

    def get(self, api_version, kind, name, namespace=None):
        return self.obj

    def apply(self, obj, namespace=None, field_manager=None, force_conflicts=False, dry_run=False):
        if self.refusal:
            raise self.refusal
        self.applied.append(obj)
        return self.obj

    def delete(self, api_version, kind, name, namespace=None, dry_run=False):
        self.deleted.append((kind, namespace, name, dry_run))


def _isvc(managed_fields):
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": "iris", "namespace": "ml", "managedFields": managed_fields}}


OURS = {"manager": "inferops.kubernetes", "operation": "Apply", "fieldsV1": {"f:spec": {"f:predictor": {}}}}
TEAM = {"manager": "team-tooling", "operation": "Apply", "fieldsV1": {"f:metadata": {"f:finalizers": {}, "f:labels": {"f:team": {}}}}}


def test_absent_deletes_an_object_whose_controller_only_added_its_finalizer():
    # as seen on KServe v0.17.0: its manager writes only the finalizer on the object (and the status subresource)
    finalizer = {"manager": "manager", "operation": "Update", "fieldsV1": {"f:metadata": {"f:finalizers": {
        ".": {}, 'v:"inferenceservice.finalizers"': {}}}}}
    status = {"manager": "manager", "operation": "Update", "subresource": "status", "fieldsV1": {"f:status": {}}}
    stored = _Stored(_isvc([OURS, finalizer, status]))
    outcome = remove_objects(stored, [_isvc([])])
    assert stored.applied == [] and stored.deleted == [("InferenceService", "ml", "iris", False)]
    assert outcome["changed"] and outcome["kept"] == []


def test_absent_withdraws_only_its_fields_from_an_object_another_manager_writes():
    stored = _Stored(_isvc([OURS, TEAM]))
    outcome = remove_objects(stored, [_isvc([])])
    (bare,) = stored.applied
    assert bare["metadata"] == {"name": "iris", "namespace": "ml"} and "spec" not in bare
    assert stored.deleted == [] and outcome["kept"] == ["InferenceService ml/iris: also managed by team-tooling"]


def test_absent_deletes_an_object_a_webhook_refuses_without_its_fields():
    message = 'admission webhook "isvc-validator.kserve.io" denied the request: exactly one of [Model, PodSpec] must be specified'
    refusal = translate_api_error(api_exception(403, message, "Forbidden"), "apply", "InferenceService", name="iris", namespace="ml")
    stored = _Stored(_isvc([OURS, TEAM]), refusal=refusal)
    outcome = remove_objects(stored, [_isvc([])])
    assert stored.deleted == [("InferenceService", "ml", "iris", False)]
    assert outcome["kept"] == ["InferenceService ml/iris: also written by team-tooling, but not valid without "
                               "inferops.kubernetes's fields: deleted"]
