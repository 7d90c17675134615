from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.errors import InputError
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.errors import K8sConflictError
from ansible_collections.inferops.kubernetes.plugins.module_utils.nodes.labels import (
    OWNED_LABELS,
    OWNED_TAINTS,
    LabelError,
    apply_node_labels,
    desired_state,
    label_facts,
    labels_from_facts,
    plan_node,
)

FACTS = json.loads((Path(__file__).resolve().parents[4] / "fixtures/nvml/h200-gpu-facts.json").read_text())
TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}


def with_mig(profiles):
    facts = copy.deepcopy(FACTS)
    facts["gpus"][0]["mig_mode"] = {"current": True, "pending": True}
    facts["gpus"][0]["mig_devices"] = [
        {"gpu_instance_id": i, "profile": p, "placement": {"start": i, "size": 1}, "uuids": []} for i, p in enumerate(profiles)
    ]
    return facts


def node(labels=None, annotations=None, taints=None, version="7"):
    return {"metadata": {"name": "n1", "resourceVersion": version, "labels": labels or {}, "annotations": annotations or {}},
            "spec": {"taints": taints} if taints is not None else {}}


def test_labels_follow_gpu_feature_discovery():
    labels = labels_from_facts(FACTS, "none", "nodes[0]")
    assert labels["nvidia.com/gpu.product"] == "NVIDIA-H200"
    assert labels["nvidia.com/gpu.count"] == "1" and labels["nvidia.com/gpu.memory"] == "143771"
    assert labels["nvidia.com/cuda.driver.rev"] == "04" and labels["nvidia.com/cuda.runtime.major"] == "13"
    assert not any(k.startswith("nvidia.com/mig-") for k in labels)


def test_mixed_and_single_strategies():
    mixed = labels_from_facts(with_mig(["1g.18gb", "1g.18gb", "3g.71gb"]), "mixed", "n")
    assert mixed["nvidia.com/mig-1g.18gb.count"] == "2" and mixed["nvidia.com/mig-3g.71gb.memory"] == "71424"
    single = labels_from_facts(with_mig(["1g.18gb"] * 7), "single", "n")
    assert single["nvidia.com/gpu.product"] == "NVIDIA-H200-MIG-1g.18gb" and single["nvidia.com/gpu.count"] == "7"
    with pytest.raises(LabelError, match="single needs the same MIG profile on every GPU"):
        labels_from_facts(with_mig(["1g.18gb", "3g.71gb"]), "single", "nodes[2]")


@pytest.mark.parametrize("facts, strategy", [
    (FACTS, "none"), (FACTS, "mixed"),
    (with_mig(["1g.18gb", "1g.18gb", "3g.71gb"]), "mixed"), (with_mig(["1g.18gb"] * 7), "single"),
    ({"gpu_present": False, "gpus": [], "reason": "no driver"}, "none"),
])
def test_trimmed_facts_give_the_same_labels(facts, strategy):
    trimmed = label_facts(facts)
    assert labels_from_facts(trimmed, strategy, "n") == labels_from_facts(facts, strategy, "n")
    assert len(json.dumps(trimmed)) * 4 < len(json.dumps(facts)) or not facts["gpus"]


def test_trimmed_facts_keep_mixed_models_refused():
    two = copy.deepcopy(FACTS)
    two["gpus"].append(dict(copy.deepcopy(FACTS["gpus"][0]), name="NVIDIA H100 80GB HBM3"))
    with pytest.raises(LabelError, match="different GPU models"):
        labels_from_facts(label_facts(two), "none", "nodes[0]")


def test_no_gpu_means_present_false():
    assert labels_from_facts({"gpu_present": False, "gpus": []}, "none", "n") == {"nvidia.com/gpu.present": "false"}


@pytest.mark.parametrize("spec, message", [
    ({"labels": {"a.example.com/x": True}}, "nodes[0].labels.a.example.com/x: label values are strings, got bool True. "
                                            "Quote it in YAML, for example 'true'."),
    ({"labels": {"a.example.com/x": 1.5}}, "label values are strings, got float 1.5"),
    ({"labels": {"bad key": "v"}}, "is not a valid label or taint key"),
    ({"labels": {"a.example.com/x": "-dash"}}, "is not a valid label value"),
    ({"taints": [{"key": "k", "effect": "Never"}]}, "taints[0].effect"),
    ({"taints": [TAINT, TAINT]}, "nvidia.com/gpu:NoSchedule is given twice"),
    ({"gpu_facts": FACTS, "mig_strategy": "partial"}, "mig_strategy: 'partial' is not one of none, single, mixed"),
])
def test_bad_input(spec, message):
    with pytest.raises(InputError) as err:
        desired_state(dict({"name": "n1"}, **spec), "nodes[0]")
    assert message in str(err.value) and "nodes[0]" in str(err.value)


def test_integer_label_values_become_strings():
    assert desired_state({"labels": {"a.example.com/replicas": 4}}, "n")["labels"] == {"a.example.com/replicas": "4"}


def test_plan_sets_owns_and_then_has_nothing_to_do():
    want = desired_state({"gpu_facts": FACTS, "taints": [TAINT]}, "n")
    step = plan_node(node({"kubernetes.io/hostname": "n1"}), want)
    patch = step["patch"]
    assert patch["metadata"]["resourceVersion"] == "7"
    assert patch["metadata"]["labels"]["nvidia.com/gpu.product"] == "NVIDIA-H200"
    assert "kubernetes.io/hostname" not in patch["metadata"]["labels"]
    assert patch["metadata"]["annotations"][OWNED_TAINTS] == "nvidia.com/gpu:NoSchedule"
    assert patch["spec"]["taints"] == [TAINT]
    done = node(dict(want["labels"], **{"kubernetes.io/hostname": "n1"}),
                {OWNED_LABELS: patch["metadata"]["annotations"][OWNED_LABELS], OWNED_TAINTS: "nvidia.com/gpu:NoSchedule"},
                [dict(TAINT)])
    assert plan_node(done, want) is None


def test_plan_removes_only_what_it_owned_and_keeps_foreign_taints_whole():
    foreign = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": "2026-11-26T05:00:00Z"}
    current = node({"nvidia.com/mig-1g.18gb.count": "7", "nvidia.com/gpu.present": "true", "team": "ml", "nvidia.com/other": "x"},
                   {OWNED_LABELS: "nvidia.com/gpu.present,nvidia.com/mig-1g.18gb.count", OWNED_TAINTS: "nvidia.com/gpu:NoSchedule"},
                   [foreign, dict(TAINT)])
    step = plan_node(current, desired_state({"labels": {"nvidia.com/gpu.present": "true"}}, "n"))
    assert step["labels_removed"] == ["nvidia.com/mig-1g.18gb.count"]
    assert step["patch"]["metadata"]["labels"] == {"nvidia.com/mig-1g.18gb.count": None}
    assert step["patch"]["spec"]["taints"] == [foreign]  # timeAdded kept; nvidia.com/other and team untouched
    assert step["patch"]["metadata"]["annotations"] == {OWNED_LABELS: "nvidia.com/gpu.present", OWNED_TAINTS: None}


class StubNodes:
    """A stand-in for the API: one node, and a patch that loses one race before it succeeds."""

    def __init__(self, conflicts=1):
        self.node = node({"kubernetes.io/hostname": "n1"})
        self.conflicts = conflicts
        self.patches = []
        self.gets = 0

    def list(self, api_version, kind):
        return [copy.deepcopy(self.node)]

    def get(self, api_version, kind, name):
        self.gets += 1
        self.node["metadata"]["resourceVersion"] = "8"
        return copy.deepcopy(self.node)

    def patch(self, api_version, kind, name, body, namespace=None, content_type=None, field_manager=None, dry_run=False):
        assert (api_version, kind, name, dry_run) == ("v1", "Node", "n1", False)
        self.patches.append(body)
        if self.conflicts:
            self.conflicts -= 1
            raise K8sConflictError("409 Conflict while trying to patch Node n1", status=409)


def test_conflict_rereads_and_replans():
    client = StubNodes(conflicts=1)
    result = apply_node_labels(client, [{"name": "n1", "labels": {"a.example.com/x": "y"}}], check_mode=False)
    assert result["api_writes"] == 1 and client.gets == 1
    assert [p["metadata"]["resourceVersion"] for p in client.patches] == ["7", "8"]


def test_conflicts_that_never_end_fail():
    client = StubNodes(conflicts=100)
    with pytest.raises(K8sConflictError):
        apply_node_labels(client, [{"name": "n1", "labels": {"a.example.com/x": "y"}}], check_mode=False, retries=2)
    assert len(client.patches) == 3
