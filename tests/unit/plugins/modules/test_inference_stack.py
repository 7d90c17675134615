"""The inference_stack module: options reach the spec, bad input fails before any connection, render mode,
and the apply path (against a recording fake of the API client: no cluster in unit tests)."""

from __future__ import annotations

import json

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args

from ansible_collections.inferops.kubernetes.plugins.module_utils.stack import deploy
from ansible_collections.inferops.kubernetes.plugins.modules import inference_stack

TF = {"name": "resnet", "runtime": "tensorflow_serving", "model": {"name": "resnet", "pvc": "models", "path": "resnet"},
      "warmup": {"body": {"instances": [[1.0]]}}}


def run(capsys, args, check_mode=False):
    with patch_module_args(dict(args, _ansible_check_mode=check_mode, _ansible_diff=True)), pytest.raises(SystemExit) as code:
        inference_stack.main()
    return code.value.code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("args, message", [
    ({"gpu": {"count": 0.5}}, "gpu.count: 0.5 is a fraction of a GPU"),
    ({"image": "tensorflow/serving:latest"}, "image: tensorflow/serving:latest uses the tag latest"),
    ({"replicas": -2}, "replicas: must be a whole number 0 or more"),
    ({"labels": {"canary": True}}, "labels.canary: label values are strings, got bool True"),
    ({"node_selector": {"nvidia.com/gpu.present": True}}, "node_selector.nvidia.com/gpu.present: label values are strings"),
    ({"ports": {"http": 8500}}, "ports.http: port 8500 is also ports.grpc"),
    ({"resources": {"requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}}}, "resources.requests.memory: the request 2Gi"),
    ({"resources": {"limits": {"nvidia.com/gpu": 1, "nvidia.com/mig-1g.10gb": 1}}}, "resources.limits: nvidia.com/gpu and nvidia.com/mig"),
    ({"gpu": {"mig_profile": "1g.10gb", "mig_strategy": "none"}}, "gpu.mig_strategy: the none strategy"),
    ({"model": {"name": "resnet", "storage_uri": "s3://b/resnet"}}, "model.storage_uri: s3:// is not a scheme"),
    ({"name": "ResNet"}, "name: 'ResNet' is not a DNS-1123 label"),
    ({"overrides": [{"apiVersion": "serving.kubeflow.org/v1beta1", "kind": "InferenceService"}]},
     "overrides[0].apiVersion: serving.kubeflow.org/v1beta1 is the retired KFServing API"),
])
def test_bad_input_fails_before_any_connection(capsys, tmp_path, args, message):
    # The kubeconfig does not exist: a failure naming the option proves validation ran before the client.
    code, result = run(capsys, dict(TF, kubeconfig=str(tmp_path / "missing"), **args))
    assert code == 1 and result["failed"] is True
    assert result["msg"].startswith(message), result["msg"]
    assert "missing" not in result["msg"]


def test_unknown_runtime_is_refused_by_its_choices(capsys, tmp_path):
    code, result = run(capsys, dict(TF, runtime="tensorrt_llm", kubeconfig=str(tmp_path / "missing")))
    assert code == 1 and "runtime" in result["msg"] and "tensorflow_serving" in result["msg"]


def test_render_mode_needs_no_cluster_and_check_mode_writes_nothing(capsys, tmp_path):
    out = tmp_path / "out"
    code, result = run(capsys, dict(TF, mode="render", render_dir=str(out)), check_mode=True)
    assert code == 0 and result["changed"] is True and not out.exists()
    code, result = run(capsys, dict(TF, mode="render", render_dir=str(out)))
    assert code == 0 and result["changed"] is True
    written = [yaml.safe_load(open(path, encoding="utf-8")) for path in result["rendered_files"]]
    assert written == deploy.plan(dict(inference_stack_defaults(), **TF))[1]
    code, result = run(capsys, dict(TF, mode="render", render_dir=str(out)))
    assert code == 0 and result["changed"] is False


def test_render_mode_needs_render_dir(capsys):
    code, result = run(capsys, dict(TF, mode="render"))
    assert code == 1 and "render_dir" in result["msg"]


def inference_stack_defaults():
    """The module's option defaults that matter to the spec (as Ansible fills them in)."""
    return {"namespace": "default", "warmup": None}


class RecordingClient:
    """A fake of K8sClient for unit tests (no API server here): records every apply body, stores them,
    answers get() with what was stored, so that a second run reports no change."""

    def __init__(self, nodes=()):
        self.applied = []
        self.store = {}
        self.nodes = list(nodes)

    def namespaced(self, api_version, kind):
        return True

    def served(self, api_version, kind):
        return True

    def apply(self, obj, namespace=None, field_manager=None, force_conflicts=False, dry_run=False):
        self.applied.append((obj, "All" if dry_run else None))
        if not dry_run:
            self.store[(obj["kind"], namespace, obj["metadata"]["name"])] = json.loads(json.dumps(obj))
        return obj

    def get(self, api_version, kind, name, namespace=None):
        return self.store.get((kind, namespace, name))

    def list(self, api_version, kind, **kwargs):
        return self.nodes if kind == "Node" else []


def test_apply_sends_exactly_the_rendered_objects_and_a_second_run_changes_nothing(tmp_path):
    from ansible_collections.inferops.kubernetes.plugins.module_utils.stack import render

    spec, objects = deploy.plan(dict(TF))
    client = RecordingClient()
    warnings = []
    checked = deploy.apply_stack(client, spec, objects, check_mode=True, warn=warnings.append)
    assert checked["changed"] is True and client.store == {}
    assert all(dry_run == "All" for _body, dry_run in client.applied)
    client.applied.clear()
    first = deploy.apply_stack(client, spec, objects, warn=warnings.append)
    assert first["changed"] is True
    assert [ref["ref"] for ref in first["objects"]] == [
        "ConfigMap default/resnet-config", "ConfigMap default/resnet-warmup", "Deployment default/resnet",
        "Service default/resnet", "PodDisruptionBudget default/resnet"]
    rendered = render.render(objects, str(tmp_path))
    sent = [body for body, _dry_run in client.applied]
    assert sent == [yaml.safe_load(open(path, encoding="utf-8")) for path in rendered["rendered_files"]]
    second = deploy.apply_stack(client, spec, objects, warn=warnings.append)
    assert second["changed"] is False


def test_mig_profile_no_node_advertises_warns(tmp_path):
    spec, objects = deploy.plan({"name": "bert", "runtime": "triton", "gpu": {"mig_profile": "3g.40gb"},
                                 "model": {"name": "bert", "pvc": "models", "backend": "onnxruntime"}})
    node = {"metadata": {"labels": {}}, "status": {"allocatable": {"nvidia.com/mig-1g.10gb": "7"}}}
    warnings = []
    deploy.apply_stack(RecordingClient([node]), spec, objects, warn=warnings.append)
    assert len(warnings) == 1 and "3g.40gb" in warnings[0]


def test_failed_rollout_reports_the_diagnosis_and_rolls_back(monkeypatch):
    spec, objects = deploy.plan(dict(TF))
    calls = []

    def not_ready(client, objs, timeout, **kwargs):
        calls.append(("wait", timeout))
        return {"ready": False, "elapsed_s": 5.0, "objects": [{"kind": "Deployment", "name": "resnet", "namespace": "default",
                                                               "ready": False, "reason": "0/1 updated replicas available"}],
                "diagnosis": [{"cause": "insufficient_gpu", "pod": "resnet-1", "message": "Not enough nvidia.com/gpu on any node.",
                               "details": {}}]}

    def rollback(client, namespace, name):
        calls.append(("rollback", namespace, name))
        return {"rolled_back": True, "from_revision": 3, "to_revision": 2, "reason": ""}

    monkeypatch.setattr(deploy.rollout, "wait_for_rollout", not_ready)
    monkeypatch.setattr(deploy.rollout, "rollback", rollback)
    state, undone, message = deploy.wait_and_maybe_roll_back(None, spec, objects, 30, True)
    assert calls == [("wait", 30), ("rollback", "default", "resnet")]
    assert undone["rolled_back"] is True
    assert "did not become ready within 30s" in message and "Not enough nvidia.com/gpu" in message
    assert "Rolled back from revision 3 to revision 2" in message
    assert ".." not in message  # findings and reasons are whole sentences already
    calls.clear()
    state, undone, message = deploy.wait_and_maybe_roll_back(None, spec, objects, 30, False)
    assert calls == [("wait", 30)] and undone is None and "Rolled back" not in message


def test_nodes_that_cannot_be_listed_only_cost_the_warning():
    from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.errors import K8sAuthError

    class NoNodes(RecordingClient):
        def list(self, api_version, kind, **kwargs):
            if kind == "Node":
                raise K8sAuthError("nodes is forbidden")
            return super().list(api_version, kind, **kwargs)

    spec, objects = deploy.plan(dict(TF, gpu={"count": 1}))
    warnings = []
    result = deploy.apply_stack(NoNodes(), spec, objects, warn=warnings.append)
    assert result["changed"] is True
    assert warnings == ["gpu: cannot list nodes, so whether any node advertises nvidia.com/gpu was not checked."]


def test_autoscalers_that_cannot_be_listed_leave_the_replicas_option_and_a_warning():
    from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.errors import K8sAuthError

    class NoAutoscalers(RecordingClient):
        def list(self, api_version, kind, **kwargs):
            if kind == "HorizontalPodAutoscaler":
                raise K8sAuthError("horizontalpodautoscalers.autoscaling is forbidden")
            return super().list(api_version, kind, **kwargs)

    spec, objects = deploy.plan(dict(TF, replicas=3))
    client, warnings = NoAutoscalers(), []
    deploy.apply_stack(client, spec, objects, warn=warnings.append)
    assert warnings == ["replicas: cannot list HorizontalPodAutoscalers, so whether one scales Deployment resnet was not checked."]
    assert [o["spec"]["replicas"] for o, _dry_run in client.applied if o["kind"] == "Deployment"] == [3]
