"""inference_stack against the real control plane: kwok GPU nodes of tests/cluster/fleet.yaml, the real scheduler,
Deployment controller and API validation (KServe objects against the upstream v0.17.0 CRDs). The module runs as
Ansible runs it. No KServe controller runs here: an InferenceService is stored and validated, no pod starts."""

from __future__ import annotations

import uuid

import pytest

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.apply import apply_objects
from k8s_helpers import assert_contains, load_rendered, run_module, wait_until

pytestmark = pytest.mark.integration

SELECTOR = "app.kubernetes.io/instance=%s,app.kubernetes.io/component=model-server"
WARMUP_BODY = {"instances": [[1.0, 2.0]]}


@pytest.fixture
def models_pvc(k8s, namespace):
    """A PersistentVolumeClaim `models` bound to a hostPath PersistentVolume of its own (kwok mounts nothing)."""
    pv_name = "models-%s" % uuid.uuid4().hex[:8]
    k8s.resource("v1", "PersistentVolume").create(body={
        "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv_name},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadOnlyMany"], "storageClassName": "",
                 "persistentVolumeReclaimPolicy": "Retain", "hostPath": {"path": "/srv/models"},
                 "claimRef": {"namespace": namespace, "name": "models"}},
    })
    k8s.resource("v1", "PersistentVolumeClaim").create(namespace=namespace, body={
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "models", "namespace": namespace},
        "spec": {"accessModes": ["ReadOnlyMany"], "storageClassName": "", "volumeName": pv_name,
                 "resources": {"requests": {"storage": "1Gi"}}},
    })
    wait_until(lambda: (k8s.get("v1", "PersistentVolumeClaim", "models", namespace) or {}).get("status", {}).get("phase") == "Bound",
               60, "PVC models bound")
    yield "models"
    k8s.resource("v1", "PersistentVolume").delete(name=pv_name)


def stack(kubeconfig, namespace, check_mode=False, **args):
    return run_module("inference_stack", dict(kubeconfig=kubeconfig, namespace=namespace, _ansible_diff=True, **args),
                      check_mode=check_mode)


def pods(k8s, namespace, name):
    return k8s.list("v1", "Pod", namespace=namespace, label_selector=SELECTOR % name)


def running_on(k8s, namespace, name, replicas):
    """The nodes of the stack's pods once `replicas` of them are Running."""
    def settled():
        current = [p for p in pods(k8s, namespace, name) if not p["metadata"].get("deletionTimestamp")]
        running = [p for p in current if p["status"].get("phase") == "Running"]
        return [p["spec"]["nodeName"] for p in running] if len(running) == replicas == len(current) else None
    return wait_until(settled, 90, "%d Running pods of %s" % (replicas, name))


def warning_texts(result):
    """The module's warnings as text (ansible-core 2.19 returns each as a structured summary)."""
    texts = []
    for warning in result.get("warnings") or []:
        texts.append(warning if isinstance(warning, str) else (warning.get("event") or {}).get("msg", str(warning)))
    return texts


def product_of(k8s, node):
    return k8s.get("v1", "Node", node)["metadata"]["labels"].get("nvidia.com/gpu.product")


def resource_versions(k8s, namespace, refs):
    versions = {}
    for api_version, kind, name in refs:
        obj = k8s.get(api_version, kind, name, namespace)
        versions[(kind, name)] = obj and obj["metadata"]["resourceVersion"]
    return versions


RUNTIME_CASES = {
    "tensorflow_serving": dict(
        model={"name": "resnet", "pvc": "models", "path": "resnet", "versions": [1, 2], "version_labels": {"stable": 1}},
        gpu={"count": 1, "product": "NVIDIA-H100-80GB-HBM3"}, warmup={"body": WARMUP_BODY}, replicas=2),
    "torchserve": dict(
        model={"name": "densenet", "pvc": "models", "mar_file": "densenet161.mar"},
        gpu={"count": 1, "product": "Tesla-T4"}, warmup={"body": "{\"data\": [1]}"}),
    "triton": dict(
        model={"name": "bert", "pvc": "models", "path": "repo/bert", "backend": "onnxruntime", "versions": [1]},
        gpu={"count": 1, "product": "NVIDIA-H100-80GB-HBM3"},
        warmup={"inputs": [{"name": "input_ids", "data_type": "TYPE_INT64", "dims": [128]}]}),
    "onnxruntime": dict(
        model={"name": "mnist", "pvc": "models", "path": "mnist"},
        gpu={"resource": "nvidia.com/gpu.shared", "product": "NVIDIA-L4-SHARED"}),
}


@pytest.mark.parametrize("runtime", sorted(RUNTIME_CASES))
def test_runtime_runs_on_the_right_gpu_nodes(kubeconfig, k8s, namespace, models_pvc, runtime):
    args = RUNTIME_CASES[runtime]
    name = "svc-%s" % runtime.replace("_", "-")
    result = stack(kubeconfig, namespace, name=name, runtime=runtime, wait=True, wait_timeout=90, **args)
    assert result["rc"] == 0, result.get("msg")
    assert result["changed"] is True and result["rollout"]["ready"] is True
    nodes = running_on(k8s, namespace, name, args.get("replicas", 1))
    assert {product_of(k8s, node) for node in nodes} == {args["gpu"]["product"]}
    if args.get("replicas", 1) > 1:
        # spread across nodes: two H100 nodes, two replicas
        assert len(set(nodes)) == 2
    pod = pods(k8s, namespace, name)[0]
    containers = {c["name"]: c for c in pod["spec"]["containers"]}
    assert ("warmup" in containers) == (runtime in ("tensorflow_serving", "torchserve"))
    service = k8s.get("v1", "Service", name, namespace)
    assert {p["name"] for p in service["spec"]["ports"]} >= {"http", "grpc"}
    assert k8s.get("policy/v1", "PodDisruptionBudget", name, namespace) is not None


def test_kserve_objects_are_accepted_whole_by_the_upstream_crds(kubeconfig, k8s, namespace, upstream_crds, tmp_path):
    args = dict(name="iris", runtime="kserve", replicas=2, warmup={"body": WARMUP_BODY},
                model={"name": "iris", "format": "sklearn", "storage_uri": "gs://kfserving-examples/models/sklearn/1.0/model"},
                kserve={"protocol": "v2", "canary_traffic_percent": 20}, gpu={"count": 1, "product": "Tesla-T4"})
    result = stack(kubeconfig, namespace, **args)
    assert result["rc"] == 0, result.get("msg")
    assert [o["ref"] for o in result["objects"]] == [
        "ServingRuntime %s/iris-runtime" % namespace, "ConfigMap %s/iris-warmup" % namespace,
        "InferenceService %s/iris" % namespace, "PodDisruptionBudget %s/iris" % namespace]
    # The CRDs prune fields they do not know: every field sent must have been stored.
    rendered = run_module("inference_stack", dict(args, namespace=namespace, mode="render", render_dir=str(tmp_path)))
    sent = {(o["kind"], o["metadata"]["name"]): o for o in load_rendered(rendered["rendered_files"])}
    for (kind, name), obj in sent.items():
        stored = k8s.get(obj["apiVersion"], kind, name, namespace)
        assert_contains(stored, obj, "%s/%s" % (kind, name))
    isvc = k8s.get("serving.kserve.io/v1beta1", "InferenceService", "iris", namespace)
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Standard"
    again = stack(kubeconfig, namespace, **args)
    assert again["rc"] == 0 and again["changed"] is False


def test_mig_profile_pod_lands_on_the_a100_mig_node(kubeconfig, k8s, namespace, models_pvc):
    result = stack(kubeconfig, namespace, name="mig", runtime="triton", gpu={"mig_profile": "1g.10gb"},
                   model={"name": "bert", "pvc": "models", "backend": "onnxruntime"}, wait=True, wait_timeout=90)
    assert result["rc"] == 0, result.get("msg")
    assert not warning_texts(result)
    [node] = running_on(k8s, namespace, "mig", 1)
    assert product_of(k8s, node) == "NVIDIA-A100-SXM4-80GB"
    assert k8s.get("v1", "Node", node)["metadata"]["labels"]["nvidia.com/mig.strategy"] == "mixed"


def test_mig_profile_no_node_advertises_is_warned(kubeconfig, namespace, models_pvc):
    result = stack(kubeconfig, namespace, name="mig7", runtime="triton", gpu={"mig_profile": "7g.80gb"}, replicas=0,
                   model={"name": "bert", "pvc": "models", "backend": "onnxruntime"}, check_mode=True)
    assert result["rc"] == 0, result.get("msg")
    assert any("7g.80gb" in w and "no node advertises" in w for w in warning_texts(result)), result.get("warnings")


def test_more_gpus_than_any_node_has_stays_pending_with_the_schedulers_reason(kubeconfig, k8s, namespace, models_pvc):
    result = stack(kubeconfig, namespace, name="huge", runtime="triton", gpu={"count": 9},
                   model={"name": "bert", "pvc": "models", "backend": "onnxruntime"}, wait=True, wait_timeout=10)
    assert result["rc"] == 1 and result["failed"] is True
    assert result["rollout"]["ready"] is False
    assert "did not become ready within 10s" in result["msg"]
    causes = {finding["cause"] for finding in result["rollout"]["diagnosis"]}
    assert "insufficient_gpu" in causes, result["rollout"]["diagnosis"]
    assert "nvidia.com/gpu" in result["msg"]
    assert all(p["status"]["phase"] == "Pending" for p in pods(k8s, namespace, "huge"))


def test_check_mode_apply_check_mode_apply(kubeconfig, k8s, namespace, models_pvc):
    args = dict(name="tfs", runtime="tensorflow_serving", model={"name": "resnet", "pvc": "models"}, warmup={"body": WARMUP_BODY})
    refs = [("v1", "ConfigMap", "tfs-config"), ("v1", "ConfigMap", "tfs-warmup"), ("apps/v1", "Deployment", "tfs"),
            ("v1", "Service", "tfs"), ("policy/v1", "PodDisruptionBudget", "tfs")]

    checked = stack(kubeconfig, namespace, check_mode=True, **args)
    assert checked["rc"] == 0, checked.get("msg")
    assert checked["changed"] is True and all(o["created"] for o in checked["objects"])
    assert set(resource_versions(k8s, namespace, refs).values()) == {None}

    applied = stack(kubeconfig, namespace, **args)
    assert applied["rc"] == 0 and applied["changed"] is True
    before = resource_versions(k8s, namespace, refs)
    assert None not in before.values()

    changed_args = dict(args, replicas=2)
    checked = stack(kubeconfig, namespace, check_mode=True, **changed_args)
    assert checked["rc"] == 0 and checked["changed"] is True
    assert [o["ref"] for o in checked["objects"] if o["changed"]] == ["Deployment %s/tfs" % namespace]
    assert resource_versions(k8s, namespace, refs) == before
    assert k8s.get("apps/v1", "Deployment", "tfs", namespace)["spec"]["replicas"] == 1

    again = stack(kubeconfig, namespace, **args)
    assert again["rc"] == 0 and again["changed"] is False
    assert resource_versions(k8s, namespace, refs) == before


def test_rendered_files_are_what_apply_sends(kubeconfig, k8s, namespace, models_pvc, tmp_path):
    args = dict(name="ts", runtime="torchserve", model={"name": "densenet", "pvc": "models"}, warmup={"body": "{}"},
                gpu={"count": 1, "product": "Tesla-T4"})
    rendered = stack(kubeconfig, namespace, mode="render", render_dir=str(tmp_path), **args)
    assert rendered["rc"] == 0, rendered.get("msg")
    objects = load_rendered(rendered["rendered_files"])
    assert [o["kind"] for o in objects] == ["ConfigMap", "ConfigMap", "Deployment", "Service", "PodDisruptionBudget"]
    # Apply the files under the module's field manager, then the module itself: nothing left to change,
    # so the module sends exactly what the files hold.
    outcome = apply_objects(k8s, objects)
    assert outcome["changed"] is True
    applied = stack(kubeconfig, namespace, **args)
    assert applied["rc"] == 0, applied.get("msg")
    assert applied["changed"] is False, applied.get("diff")


def test_absent_removes_the_stack_and_leaves_what_others_write(kubeconfig, k8s, namespace, models_pvc):
    args = dict(name="gone", runtime="tensorflow_serving", model={"name": "resnet", "pvc": "models"}, warmup={"body": WARMUP_BODY})
    refs = [("v1", "ConfigMap", "gone-config"), ("v1", "ConfigMap", "gone-warmup"), ("apps/v1", "Deployment", "gone"),
            ("v1", "Service", "gone"), ("policy/v1", "PodDisruptionBudget", "gone")]
    assert stack(kubeconfig, namespace, **args)["rc"] == 0
    # another tool labels the config and the Service: on its own, its label makes a valid ConfigMap (kept,
    # with the label only) but not a valid Service (no ports), which goes
    for kind, name in (("ConfigMap", "gone-config"), ("Service", "gone")):
        k8s.resource("v1", kind).server_side_apply(
            namespace=namespace, name=name, field_manager="team-tooling",
            body={"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "labels": {"team": "search"}}})

    dry = stack(kubeconfig, namespace, check_mode=True, state="absent", **args)
    assert dry["rc"] == 0 and dry["changed"] is True, dry.get("msg")
    assert None not in resource_versions(k8s, namespace, refs).values()

    removed = stack(kubeconfig, namespace, state="absent", **args)
    assert removed["rc"] == 0 and removed["changed"] is True, removed.get("msg")
    assert removed["objects"][0]["ref"] == "PodDisruptionBudget %s/gone" % namespace  # reverse of apply order
    assert any("ConfigMap %s/gone-config: also managed by team-tooling" % namespace == k for k in removed["kept"]), removed["kept"]
    assert any(k.startswith("Service %s/gone: also written by team-tooling" % namespace) for k in removed["kept"]), removed["kept"]
    gone = [r for r in refs if r[2] != "gone-config"]
    wait_until(lambda: all(k8s.get(a, k, n, namespace) is None for a, k, n in gone), 60, "the stack gone")
    config = k8s.get("v1", "ConfigMap", "gone-config", namespace)
    assert config["metadata"]["labels"] == {"team": "search"} and not config.get("data")

    again = stack(kubeconfig, namespace, state="absent", **args)
    assert again["rc"] == 0 and again["changed"] is False


def test_absent_has_no_render_mode(kubeconfig, namespace, tmp_path):
    result = stack(kubeconfig, namespace, state="absent", mode="render", render_dir=str(tmp_path), name="x",
                   runtime="tensorflow_serving", model={"name": "m", "pvc": "models"})
    assert result["rc"] != 0 and "state=absent has nothing to render" in result["msg"]
    assert not list(tmp_path.iterdir())


def test_create_namespace_enforces_restricted_and_the_pods_pass_it(kubeconfig, k8s):
    name = "it-ns-%s" % uuid.uuid4().hex[:8]
    args = dict(name="tfs", runtime="tensorflow_serving", model={"name": "resnet", "storage_uri": "gs://bucket/resnet"},
                gpu={"count": 1, "product": "NVIDIA-H100-80GB-HBM3"}, warmup={"body": WARMUP_BODY}, create_namespace=True)
    try:
        applied = stack(kubeconfig, name, **args)
        assert applied["rc"] == 0 and applied["changed"], applied.get("msg")
        labels = k8s.get("v1", "Namespace", name)["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
        # admission let the pod in under restricted, and it runs on an H100 node
        nodes = running_on(k8s, name, "tfs", 1)
        assert product_of(k8s, nodes[0]) == "NVIDIA-H100-80GB-HBM3"
        again = stack(kubeconfig, name, **args)
        assert again["rc"] == 0 and again["changed"] is False
        removed = stack(kubeconfig, name, state="absent", **args)
        assert removed["rc"] == 0 and removed["changed"], removed.get("msg")
        assert not any(o["ref"].startswith("Namespace") for o in removed["objects"])
        assert k8s.get("v1", "Namespace", name)["metadata"].get("deletionTimestamp") is None
    finally:
        k8s.resource("v1", "Namespace").delete(name=name)
