from __future__ import annotations

import pytest
import yaml

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.errors import InputError
from ansible_collections.inferops.kubernetes.plugins.module_utils.device_plugin import manifests as dp


def build(**spec):
    return {obj["kind"]: obj for obj in dp.build_manifests(dp.validate(spec))}


def pod_spec(objects):
    return objects["DaemonSet"]["spec"]["template"]["spec"]


def config(objects):
    return yaml.safe_load(objects["ConfigMap"]["data"][dp.CONFIG_KEY])


def test_defaults_build_the_four_objects_in_apply_order():
    kinds = [obj["kind"] for obj in dp.build_manifests(dp.validate({}))]
    assert kinds == ["Namespace", "ConfigMap", "RuntimeClass", "DaemonSet"]
    objects = build()
    assert objects["Namespace"]["metadata"]["name"] == "nvidia-device-plugin"
    assert objects["DaemonSet"]["metadata"]["namespace"] == "nvidia-device-plugin"
    assert objects["RuntimeClass"] == {
        "apiVersion": "node.k8s.io/v1",
        "kind": "RuntimeClass",
        "metadata": {"name": "nvidia", "labels": {"app.kubernetes.io/managed-by": "inferops.kubernetes"}},
        "handler": "nvidia",
    }


def test_namespace_is_labelled_privileged_for_the_host_path():
    labels = build(namespace="gpu-system")["Namespace"]["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels["pod-security.kubernetes.io/%s" % mode] == "privileged"


def test_daemonset_follows_upstream():
    objects = build()
    daemonset = objects["DaemonSet"]
    spec = pod_spec(objects)
    container = spec["containers"][0]
    assert container["image"] == dp.DEFAULT_IMAGE and not dp.DEFAULT_IMAGE.endswith(":latest")
    assert daemonset["spec"]["updateStrategy"] == {"type": "RollingUpdate"}
    assert daemonset["spec"]["selector"]["matchLabels"].items() <= daemonset["spec"]["template"]["metadata"]["labels"].items()
    assert spec["priorityClassName"] == "system-node-critical"
    assert spec["runtimeClassName"] == "nvidia"
    assert spec["automountServiceAccountToken"] is False
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    assert {"name": "CONFIG_FILE", "value": "/etc/nvidia-device-plugin/config.yaml"} in container["env"]
    assert {v["name"]: v for v in spec["volumes"]}["kubelet-device-plugins-dir"]["hostPath"] == {
        "path": "/var/lib/kubelet/device-plugins", "type": "Directory",
    }
    assert {v["name"]: v for v in spec["volumes"]}["config"]["configMap"]["name"] == objects["ConfigMap"]["metadata"]["name"]
    terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert {"key": "nvidia.com/gpu.present", "operator": "In", "values": ["true"]} in [t["matchExpressions"][0] for t in terms]
    assert "nodeSelector" not in spec


def _all_values_are_strings(obj):
    if isinstance(obj, dict):
        return all(_all_values_are_strings(v) for v in obj.values())
    if isinstance(obj, list):
        return all(_all_values_are_strings(v) for v in obj)
    return isinstance(obj, str)


def test_labels_and_selectors_are_strings():
    objects = build(node_selector={"pool": "gpu"}, tolerations=[{"key": "a", "value": "true", "effect": "NoSchedule"}])
    for obj in objects.values():
        assert _all_values_are_strings(obj["metadata"].get("labels", {}))
    spec = pod_spec(objects)
    assert _all_values_are_strings(spec["nodeSelector"])
    assert _all_values_are_strings(spec["affinity"])
    assert _all_values_are_strings(spec["tolerations"])


@pytest.mark.parametrize(
    "strategy, security_context, monitors_mig",
    [
        ("none", {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}, False),
        ("single", {"capabilities": {"add": ["SYS_ADMIN"]}}, True),
        ("mixed", {"capabilities": {"add": ["SYS_ADMIN"]}}, True),
    ],
)
def test_mig_strategies(strategy, security_context, monitors_mig):
    objects = build(mig_strategy=strategy)
    assert config(objects) == {"version": "v1", "flags": {"migStrategy": strategy, "failOnInitError": True}}
    container = pod_spec(objects)["containers"][0]
    assert container["securityContext"] == security_context
    assert ({"name": "NVIDIA_MIG_MONITOR_DEVICES", "value": "all"} in container["env"]) is monitors_mig


@pytest.mark.parametrize(
    "time_slicing, mig_strategy, expected",
    [
        (
            {"replicas": 4},
            "none",
            {"renameByDefault": False, "failRequestsGreaterThanOne": False,
             "resources": [{"name": "nvidia.com/gpu", "replicas": 4}]},
        ),
        (
            {"replicas": 2, "rename_by_default": True, "fail_requests_greater_than_one": True, "resources": None},
            "single",
            {"renameByDefault": True, "failRequestsGreaterThanOne": True,
             "resources": [{"name": "nvidia.com/gpu", "replicas": 2}]},
        ),
        (
            {"replicas": 3, "resources": ["nvidia.com/mig-1g.10gb", "nvidia.com/mig-1g.10gb+me"]},
            "mixed",
            {"renameByDefault": False, "failRequestsGreaterThanOne": False,
             "resources": [{"name": "nvidia.com/mig-1g.10gb", "replicas": 3}, {"name": "nvidia.com/mig-1g.10gb+me", "replicas": 3}]},
        ),
    ],
)
def test_time_slicing_config(time_slicing, mig_strategy, expected):
    rendered = config(build(time_slicing=time_slicing, mig_strategy=mig_strategy))
    assert rendered["version"] == "v1"
    assert rendered["flags"]["migStrategy"] == mig_strategy
    assert rendered["sharing"] == {"timeSlicing": expected}


def test_config_file_is_the_upstream_yaml_layout():
    text = dp.render_config(dp.validate({"time_slicing": {"replicas": 4, "rename_by_default": True}}))
    assert text.splitlines()[:4] == ["version: v1", "flags:", "  migStrategy: none", "  failOnInitError: true"]
    assert "  timeSlicing:\n    renameByDefault: true\n" in text


def test_a_config_change_changes_the_pod_template():
    def template_hash(**spec):
        return build(**spec)["DaemonSet"]["spec"]["template"]["metadata"]["annotations"][dp.CONFIG_HASH_ANNOTATION]

    assert template_hash() == template_hash()
    assert template_hash() != template_hash(time_slicing={"replicas": 2})
    assert template_hash() != template_hash(mig_strategy="mixed")


@pytest.mark.parametrize(
    "extra, expected",
    [
        ([], list(dp.DEFAULT_TOLERATIONS)),
        (
            [{"key": "dedicated", "operator": "Equal", "value": "inference", "effect": "NoSchedule"}],
            list(dp.DEFAULT_TOLERATIONS) + [{"key": "dedicated", "operator": "Equal", "value": "inference", "effect": "NoSchedule"}],
        ),
        # the same as a default one: listed once
        ([{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}], list(dp.DEFAULT_TOLERATIONS)),
        # operator defaults to Equal, as in the API; None fields (from Ansible) are dropped
        (
            [{"key": "zone", "value": "a", "effect": "NoExecute", "tolerationSeconds": 30, "operator": None}],
            list(dp.DEFAULT_TOLERATIONS) + [{"key": "zone", "operator": "Equal", "value": "a", "effect": "NoExecute", "tolerationSeconds": 30}],
        ),
    ],
)
def test_tolerations(extra, expected):
    assert pod_spec(build(tolerations=extra))["tolerations"] == expected


def test_the_tainted_gpu_node_is_tolerated_by_default():
    taint = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
    tolerations = pod_spec(build())["tolerations"]
    assert any(t["key"] == taint["key"] and t["operator"] == "Exists" and t.get("effect") == taint["effect"] for t in tolerations)


def test_node_selector_priority_and_runtime_class_options():
    spec = pod_spec(build(node_selector={"node.kubernetes.io/instance-type": "g6.12xlarge"}, priority_class_name="",
                          runtime_class=False))
    assert spec["nodeSelector"] == {"node.kubernetes.io/instance-type": "g6.12xlarge"}
    assert "priorityClassName" not in spec and "runtimeClassName" not in spec
    assert "RuntimeClass" not in build(runtime_class=False)


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"time_slicing": {"replicas": 0}}, "time_slicing.replicas: must be 1 or more, got 0"),
        ({"time_slicing": {"replicas": -2}}, "time_slicing.replicas: must be 1 or more, got -2"),
        ({"time_slicing": {"replicas": "4"}}, "time_slicing.replicas: expected a whole number"),
        ({"time_slicing": {}}, "time_slicing.replicas: expected a whole number, got None"),
        ({"time_slicing": {"replicas": 2, "slices": 3}}, "time_slicing: unknown option(s) slices"),
        ({"time_slicing": {"replicas": 2, "rename_by_default": "yes"}}, "time_slicing.rename_by_default: expected true or false"),
        ({"time_slicing": {"replicas": 2, "resources": ["nvidia.com/mig-1g.10gb"]}},
         "time_slicing.resources[0]: nvidia.com/mig-1g.10gb exists only with mig_strategy=mixed"),
        ({"time_slicing": {"replicas": 2, "resources": ["amd.com/gpu"]}},
         "time_slicing.resources[0]: 'amd.com/gpu' is not a resource the device plugin advertises"),
        ({"time_slicing": {"replicas": 2, "resources": ["nvidia.com/gpu.shared"]}}, "time_slicing.resources[0]"),
        ({"time_slicing": {"replicas": 2, "resources": ["nvidia.com/gpu", "nvidia.com/gpu"]}}, "lists a resource more than once"),
        ({"mig_strategy": "all"}, "mig_strategy: 'all' is not a MIG strategy. Use none"),
        ({"image": "nvcr.io/nvidia/k8s-device-plugin:latest"}, "image: nvcr.io/nvidia/k8s-device-plugin:latest uses the tag latest"),
        ({"image": "nvcr.io/nvidia/k8s-device-plugin"}, "image: nvcr.io/nvidia/k8s-device-plugin has no tag"),
        ({"image": "registry:5000/k8s-device-plugin"}, "has no tag"),
        ({"image": "k8s-device-plugin:latest@sha256:" + "0" * 64}, "uses the tag latest"),
        ({"image": ""}, "image: '' is not an image reference"),
        ({"namespace": "GPU_System"}, "namespace: 'GPU_System' is not a valid namespace name"),
        ({"priority_class_name": "Critical!"}, "priority_class_name: 'Critical!' is not a PriorityClass name"),
        ({"node_selector": {"nvidia.com/gpu.present": True}},
         "node_selector.nvidia.com/gpu.present: label values are strings, got bool True. Quote it in YAML, for example 'true'."),
        ({"node_selector": {"pool": 3}}, "node_selector.pool: label values are strings, got int 3"),
        ({"node_selector": {"bad key": "x"}}, "node_selector.bad key: 'bad key' is not a valid name"),
        ({"node_selector": ["pool=gpu"]}, "node_selector: expected a mapping"),
        ({"tolerations": [{"key": "a", "value": True}]}, "tolerations[0].value: label values are strings, got bool True"),
        ({"tolerations": [{"key": "a", "operator": "Exists", "value": "x"}]}, "tolerations[0].value: operator Exists matches any value"),
        ({"tolerations": [{"key": "a", "operator": "In"}]}, "tolerations[0].operator: 'In' is not an operator"),
        ({"tolerations": [{"key": "a", "effect": "NoRun"}]}, "tolerations[0].effect: 'NoRun' is not a taint effect"),
        ({"tolerations": [{"key": "a", "effect": "NoSchedule", "tolerationSeconds": 5}]},
         "tolerations[0].tolerationSeconds: applies only to effect NoExecute"),
        ({"tolerations": [{"value": "x"}]}, "tolerations[0].key: an empty key tolerates every taint and needs operator Exists"),
        ({"tolerations": [{"key": "a", "toleration_seconds": 5}]}, "tolerations[0]: unknown field(s) toleration_seconds"),
        ({"tolerations": ["nvidia.com/gpu"]}, "tolerations[0]: expected a mapping"),
        ({"replicas": 2}, "Unknown device plugin option(s): replicas"),
    ],
)
def test_bad_inputs_are_refused_with_the_field_and_the_fix(spec, message):
    with pytest.raises(InputError) as error:
        dp.validate(spec)
    assert message in error.value.msg


def test_an_empty_key_with_exists_tolerates_everything_and_is_allowed():
    assert {"operator": "Exists"} in pod_spec(build(tolerations=[{"operator": "Exists"}]))["tolerations"]


@pytest.mark.parametrize(
    "image",
    [dp.DEFAULT_IMAGE, "registry.local:5000/nvidia/k8s-device-plugin:v0.17.4", "nvcr.io/nvidia/k8s-device-plugin@sha256:" + "a" * 64],
)
def test_pinned_images_are_accepted(image):
    assert dp.validate({"image": image})["image"] == image


def _daemonset(namespace, name=dp.NAME, runtime_class=dp.RUNTIME_CLASS_NAME, deleting=False):
    metadata = {"namespace": namespace, "name": name}
    if deleting:
        metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    template = {"containers": [{"name": "c", "image": "i:1"}]}
    if runtime_class:
        template["runtimeClassName"] = runtime_class
    return {"metadata": metadata, "spec": {"template": {"spec": template}}}


@pytest.mark.parametrize("daemonsets, expected", [
    ([], []),
    ([_daemonset("gpu-a")], []),  # only this install's own
    ([_daemonset("gpu-a"), _daemonset("gpu-b")], ["gpu-b/nvidia-device-plugin"]),
    ([_daemonset("gpu-b", deleting=True)], []),
    ([_daemonset("gpu-b", runtime_class=None), _daemonset("gpu-c", runtime_class="kata")], []),
    ([_daemonset("gpu-a", name="helm-nvidia-device-plugin"), _daemonset("z"), _daemonset("gpu-b")],
     ["gpu-a/helm-nvidia-device-plugin", "gpu-b/nvidia-device-plugin", "z/nvidia-device-plugin"]),
], ids=["none", "own", "another-install", "another-being-deleted", "other-runtime-classes", "any-daemonset-sorted"])
def test_runtime_class_users_are_the_other_daemonsets_that_run_under_it(daemonsets, expected):
    assert dp.runtime_class_users(daemonsets, "gpu-a") == expected
