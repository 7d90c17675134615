from __future__ import annotations

import pytest

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s import addon

OBJECTS = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gpu"}},
    {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "exporter", "namespace": "gpu"}},
]


class Module:
    def __init__(self, check_mode=False, diff=False, wait=True):
        self.check_mode, self._diff = check_mode, diff
        self.params = {"force_conflicts": False, "wait": wait, "wait_timeout": 5}
        self.warnings = []

    def warn(self, message):
        self.warnings.append(message)


@pytest.fixture
def applied(monkeypatch):
    calls = []

    def apply_objects(_client, objects, check_mode=False, force_conflicts=False):
        calls.append(("apply", check_mode))
        return {"changed": True, "diff": [{"after_header": "x"}],
                "results": [{"ref": "%s/%s" % (o["kind"], o["metadata"]["name"]), "changed": True, "created": True} for o in objects]}

    def wait(_client, name, namespace, selector, timeout):
        calls.append(("wait", name, namespace, selector, timeout))
        return {"desired": 0, "updated": 0, "ready": 0, "available": 0, "nodes": []}
    monkeypatch.setattr(addon, "apply_objects", apply_objects)
    monkeypatch.setattr(addon, "wait_for_daemonset_rollout", wait)
    return calls


def test_waits_for_the_daemonset_and_warns_when_no_node_is_a_gpu_node(applied):
    module = Module(diff=True)
    result = addon.apply_gpu_addon(object(), module, OBJECTS, {"app": "x"}, "the exporter")
    assert applied == [("apply", False), ("wait", "exporter", "gpu", {"app": "x"}, 5)]
    assert result["objects"] == [{"ref": "Namespace/gpu", "changed": True, "created": True},
                                 {"ref": "DaemonSet/exporter", "changed": True, "created": True}]
    assert result["diff"] == [{"after_header": "x"}] and result["rollout"]["desired"] == 0
    assert module.warnings == ["No node is a GPU node, so the exporter runs nowhere. Label GPU nodes nvidia.com/gpu.present=true "
                               "(or run Node Feature Discovery), and check node_selector."]


@pytest.mark.parametrize("module", [Module(check_mode=True), Module(wait=False)], ids=["check-mode", "no-wait"])
def test_no_wait_in_check_mode_or_without_wait(applied, module):
    result = addon.apply_gpu_addon(object(), module, OBJECTS, {"app": "x"}, "the exporter")
    assert [c[0] for c in applied] == ["apply"] and "rollout" not in result and "diff" not in result
