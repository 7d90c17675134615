from __future__ import annotations

import pytest

from ansible_collections.inferops.kubernetes.plugins.module_utils.dcgm_exporter import deploy
from ansible_collections.inferops.kubernetes.plugins.module_utils.dcgm_exporter.options import ARGUMENT_SPEC
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.errors import K8sError, missing_crd_error
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.options import option_defaults


class Module:
    check_mode = False
    _diff = False

    def __init__(self, **params):
        self.params = dict(option_defaults(ARGUMENT_SPEC), service_monitor_labels={"release": "prom"})
        self.params.update(params)


class Client:
    """Knows the RuntimeClasses named in runtime_classes; serves ServiceMonitors when monitors is true; writes nothing."""

    def __init__(self, runtime_classes=(), monitors=True):
        self.runtime_classes, self.monitors = set(runtime_classes), monitors

    def get(self, api_version, kind, name, namespace=None):
        assert (api_version, kind) == ("node.k8s.io/v1", "RuntimeClass")
        return {"metadata": {"name": name}} if name in self.runtime_classes else None

    def namespaced(self, api_version, kind):
        if not self.monitors:
            raise missing_crd_error(api_version, kind)
        return True

    def served(self, api_version, kind):
        return self.monitors or kind != "ServiceMonitor"


@pytest.fixture
def no_writes(monkeypatch):
    def refuse(*_args, **_kwargs):
        raise AssertionError("wrote to the cluster")
    monkeypatch.setattr(deploy, "apply_gpu_addon", refuse)
    monkeypatch.setattr(deploy, "remove_objects", refuse)


@pytest.mark.parametrize("client, params, message", [
    (Client(), {}, "runtime_class_name: the RuntimeClass nvidia does not exist. Deploy the device plugin first"),
    (Client({"nvidia"}, monitors=False), {},
     "service_monitor: The cluster does not serve monitoring.coreos.com/v1 ServiceMonitor: its CustomResourceDefinition is not installed"),
    (Client({"nvidia"}, monitors=False), {}, "Or set service_monitor=false and scrape the Service nvidia-dcgm-exporter/dcgm-exporter"),
], ids=["runtime-class", "no-crd", "no-crd-fix"])
def test_missing_targets_are_named_before_anything_is_written(no_writes, client, params, message):  # pylint: disable=unused-argument
    with pytest.raises(K8sError) as caught:
        deploy.run_dcgm_exporter(client, Module(**params))
    assert message in str(caught.value)


def test_without_the_crd_removal_skips_the_service_monitor(monkeypatch):
    removed = []

    def remove(_client, objects, check_mode=False):
        removed.extend(o["kind"] for o in objects)
        return {"changed": False, "results": [], "kept": [], "diff": []}
    monkeypatch.setattr(deploy, "remove_objects", remove)
    deploy.run_dcgm_exporter(Client(monitors=False), Module(state="absent"))
    assert removed == ["Namespace", "ConfigMap", "DaemonSet", "Service"]
    removed.clear()
    # removal needs no selector labels, and removes a ServiceMonitor an earlier run wrote even with service_monitor off
    deploy.run_dcgm_exporter(Client(), Module(state="absent", service_monitor_labels={}))
    assert removed == ["Namespace", "ConfigMap", "DaemonSet", "Service", "ServiceMonitor"]
