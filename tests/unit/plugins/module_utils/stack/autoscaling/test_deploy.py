"""Which autoscalers of the workload deploy.py counts as someone else's, with a client that serves fixed lists."""

from __future__ import annotations

from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.autoscaling import deploy

KEDA_BASE = {"name": "bert", "namespace": "serving", "runtime": "triton", "max_replicas": 4,
             "keda": {"redis": {"address": "redis:6379", "list_name": "q"}}}


class Lists:
    """The client calls other_autoscalers makes: list per kind, and whether a kind is served."""

    def __init__(self, items, keda=True):
        self.items, self.keda = items, keda

    def served(self, api_version, kind):
        return self.keda or not api_version.startswith("keda.sh")

    def list(self, api_version, kind, namespace=None):
        return [i for i in self.items if i["kind"] == kind and i["metadata"]["namespace"] == namespace]


def scaler(kind, name, target="bert", managers=("someone",), owners=()):
    return {"kind": kind, "metadata": {"name": name, "namespace": "serving",
                                       "managedFields": [{"manager": m} for m in managers], "ownerReferences": list(owners)},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target}}}


def others(items, keda=True, **options):
    spec = deploy.plan(dict(KEDA_BASE, **options))[0]
    return deploy.other_autoscalers(Lists(items, keda), spec)


def test_someone_elses_hpa_and_scaled_object_are_named():
    assert others([scaler("HorizontalPodAutoscaler", "legacy"), scaler("ScaledObject", "theirs")]) == [
        "HorizontalPodAutoscaler legacy", "ScaledObject theirs"]


def test_this_modules_own_objects_and_kedas_hpa_of_them_do_not_count():
    assert others([
        scaler("HorizontalPodAutoscaler", "bert", managers=(deploy.FIELD_MANAGER,)),
        scaler("ScaledObject", "bert", managers=(deploy.FIELD_MANAGER,)),
        scaler("HorizontalPodAutoscaler", "keda-hpa-bert", managers=("keda",), owners=[{"kind": "ScaledObject", "name": "bert"}]),
    ]) == []


def test_an_object_of_the_same_name_written_by_someone_else_counts():
    assert others([scaler("HorizontalPodAutoscaler", "bert")]) == ["HorizontalPodAutoscaler bert"]


def test_autoscalers_of_other_workloads_do_not_count():
    assert others([scaler("HorizontalPodAutoscaler", "other", target="resnet")]) == []


def test_kserves_own_hpa_does_not_count_for_kserve_only():
    theirs = scaler("HorizontalPodAutoscaler", "bert-predictor", target="bert-predictor", owners=[{"kind": "InferenceService", "name": "bert"}])
    assert others([theirs], runtime="kserve") == []
    assert others([theirs], target={"name": "bert-predictor"}) == ["HorizontalPodAutoscaler bert-predictor"]


def test_without_keda_crds_only_hpas_are_read():
    assert others([scaler("HorizontalPodAutoscaler", "legacy")], keda=False) == ["HorizontalPodAutoscaler legacy"]
