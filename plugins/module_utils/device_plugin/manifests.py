# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The NVIDIA k8s-device-plugin as plain-dict manifests, from one validated spec.

`validate` checks every input and raises a K8sError naming the option and the fix;
`build_manifests` turns the validated spec into the Namespace, ConfigMap, RuntimeClass
and DaemonSet in the order they must be applied. `rollout_complete` and
`describe_rollout` read the DaemonSet (and its pods) back. Nothing here talks to the API.

The config file is the plugin's own format (`version: v1`, `flags`, `sharing.timeSlicing`),
read by the plugin from a ConfigMap. No config-manager sidecar is deployed: the plugin
reads its config once at start, so the pod template carries a hash of the config and a
changed config rolls the DaemonSet.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Dict, List

from ansible_collections.inferops.kubernetes.plugins.module_utils.device_plugin.options import PLUGIN_OPTIONS
from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.resources import MIG_STRATEGIES, classify
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.objects import (
    CONFIG_HASH_ANNOTATION,
    GPU_ADDON_AFFINITY,
    GPU_ADDON_TOLERATIONS,
    MANAGED_BY,
    config_digest,
    pod_security_namespace,
)
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.options import option_defaults
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.validate import (
    DNS_LABEL,
    DNS_SUBDOMAIN,
    fail,
    valid_image,
    valid_labels,
    valid_toleration,
    with_defaults,
)

if TYPE_CHECKING:
    from ansible_collections.inferops.kubernetes.plugins.module_utils.device_plugin.shapes import DevicePluginSpec

try:
    import yaml
except ImportError:  # PyYAML comes with the kubernetes client, which every API module checks for first
    yaml = None

NAME = "nvidia-device-plugin"
CONFIG_MAP_NAME = "nvidia-device-plugin-config"
CONFIG_KEY = "config.yaml"
CONFIG_DIR = "/etc/nvidia-device-plugin"
RUNTIME_CLASS_NAME = "nvidia"
DEVICE_PLUGIN_DIR = "/var/lib/kubelet/device-plugins"

# Top-level defaults for a plain dict of options, as the module's params would have them.
DEFAULTS = option_defaults(PLUGIN_OPTIONS)
DEFAULT_IMAGE = DEFAULTS["image"]
DEFAULT_TIME_SLICED_RESOURCES = ("nvidia.com/gpu",)

SELECTOR_LABELS = {"app.kubernetes.io/name": NAME}
COMMON_LABELS = dict(SELECTOR_LABELS, **{"app.kubernetes.io/managed-by": MANAGED_BY})

# Where GPU add-ons run: GPU nodes, tainted or not (k8s/objects.py).
GPU_NODE_AFFINITY = GPU_ADDON_AFFINITY
DEFAULT_TOLERATIONS = GPU_ADDON_TOLERATIONS


def _time_slicing(value, mig_strategy):
    if value is None:
        return None
    if not isinstance(value, dict):
        fail("time_slicing", "expected a mapping, got %s" % type(value).__name__, "Give at least replicas, for example {replicas: 4}.")
    unknown = sorted(set(value) - {"replicas", "rename_by_default", "fail_requests_greater_than_one", "resources"})
    if unknown:
        fail("time_slicing", "unknown option(s) %s" % ", ".join(unknown),
             "Known options: replicas, rename_by_default, fail_requests_greater_than_one, resources.")
    replicas = value.get("replicas")
    if isinstance(replicas, bool) or not isinstance(replicas, int):
        fail("time_slicing.replicas", "expected a whole number, got %r" % (replicas,),
             "Set how many pods may share each GPU, for example 4.")
    if replicas < 1:
        fail("time_slicing.replicas", "must be 1 or more, got %d" % replicas,
             "Each GPU is advertised replicas times: set 2 or more to share GPUs, or leave time_slicing out.")
    flags = {}
    for option in ("rename_by_default", "fail_requests_greater_than_one"):
        flag = value.get(option, False)
        if flag is None:
            flag = False
        if not isinstance(flag, bool):
            fail("time_slicing.%s" % option, "expected true or false, got %r" % (flag,), "Set true or false.")
        flags[option] = flag
    resources = value.get("resources") or list(DEFAULT_TIME_SLICED_RESOURCES)
    if not isinstance(resources, list):
        fail("time_slicing.resources", "expected a list of resource names", "For example [nvidia.com/gpu].")
    for index, resource in enumerate(resources):
        path = "time_slicing.resources[%d]" % index
        # nvidia.com/gpu, or a MIG profile as the mixed strategy names it (not an already shared .shared name)
        if not isinstance(resource, str) or (classify(resource) or ("shared",))[0] == "shared":
            fail(path, "%r is not a resource the device plugin advertises" % (resource,),
                 "Use nvidia.com/gpu, or nvidia.com/mig-<profile> such as nvidia.com/mig-1g.10gb with mig_strategy=mixed.")
        if classify(resource)[0] == "mig" and mig_strategy != "mixed":  # type: ignore[index]  # not None: checked above
            fail(path, "%s exists only with mig_strategy=mixed (mig_strategy is %s; with single, MIG devices are "
                 "advertised as nvidia.com/gpu)" % (resource, mig_strategy),
                 "Set mig_strategy=mixed, or time-slice nvidia.com/gpu.")
    if len(set(resources)) != len(resources):
        fail("time_slicing.resources", "lists a resource more than once", "List each resource once.")
    return dict(flags, replicas=replicas, resources=list(resources))


def validate(spec: Dict[str, Any]) -> DevicePluginSpec:
    """A complete, checked copy of spec (module option names; missing ones take DEFAULTS).

    Raises K8sError naming the first wrong option and the fix; nothing is built before this passes.
    """
    merged = with_defaults(spec, DEFAULTS, "device plugin")
    namespace = merged["namespace"]
    if not isinstance(namespace, str) or len(namespace) > 63 or not DNS_LABEL.match(namespace):
        fail("namespace", "%r is not a valid namespace name" % (namespace,),
             "Use at most 63 lower-case letters, digits and '-', for example %s." % NAME)
    if merged["mig_strategy"] not in MIG_STRATEGIES:
        fail("mig_strategy", "%r is not a MIG strategy" % (merged["mig_strategy"],),
             "Use none (MIG off, whole GPUs), single (every GPU in the same MIG layout, advertised as nvidia.com/gpu) "
             "or mixed (nvidia.com/mig-<profile> resources).")
    priority = merged["priority_class_name"]
    if priority and (not isinstance(priority, str) or len(priority) > 253 or not DNS_SUBDOMAIN.match(priority)):
        fail("priority_class_name", "%r is not a PriorityClass name" % (priority,), "Use system-node-critical, or the name of a PriorityClass.")
    if not isinstance(merged["runtime_class"], bool):
        fail("runtime_class", "expected true or false, got %r" % (merged["runtime_class"],), "Set true or false.")
    if not isinstance(merged["tolerations"], list):
        fail("tolerations", "expected a list, got %s" % type(merged["tolerations"]).__name__, "Give a list of tolerations.")
    return {
        "namespace": namespace,
        "image": valid_image("image", merged["image"], DEFAULT_IMAGE),
        "mig_strategy": merged["mig_strategy"],
        "time_slicing": _time_slicing(merged["time_slicing"], merged["mig_strategy"]),
        "runtime_class": merged["runtime_class"],
        "priority_class_name": priority or None,
        "tolerations": [valid_toleration(i, t) for i, t in enumerate(merged["tolerations"])],
        "node_selector": valid_labels("node_selector", merged["node_selector"]),
    }


def plugin_config(spec: DevicePluginSpec):
    """The device plugin's config file (format `version: v1`) as a dict, from a validated spec."""
    config = {
        "version": "v1",
        "flags": {
            "migStrategy": spec["mig_strategy"],
            # The DaemonSet runs on GPU nodes only, so a plugin that cannot initialise NVML is a
            # broken node: crash-loop where the rollout wait reports it, instead of advertising nothing.
            "failOnInitError": True,
        },
    }
    sharing = spec["time_slicing"]
    if sharing:
        config["sharing"] = {
            "timeSlicing": {
                "renameByDefault": sharing["rename_by_default"],
                "failRequestsGreaterThanOne": sharing["fail_requests_greater_than_one"],
                "resources": [{"name": name, "replicas": sharing["replicas"]} for name in sharing["resources"]],
            }
        }
    return config


def render_config(spec: DevicePluginSpec):
    return yaml.safe_dump(plugin_config(spec), sort_keys=False, default_flow_style=False)


def namespace_manifest(spec: DevicePluginSpec):
    # The plugin mounts a hostPath (the kubelet's device-plugin socket directory), which
    # Pod Security's baseline and restricted levels forbid: its namespace must be privileged.
    return pod_security_namespace(spec["namespace"], "privileged")


def config_map_manifest(spec: DevicePluginSpec):
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": CONFIG_MAP_NAME, "namespace": spec["namespace"], "labels": dict(COMMON_LABELS)},
        "data": {CONFIG_KEY: render_config(spec)},
    }


def runtime_class_manifest():
    # The handler is the runtime name the container runtime role configures in containerd / CRI-O.
    return {
        "apiVersion": "node.k8s.io/v1",
        "kind": "RuntimeClass",
        "metadata": {"name": RUNTIME_CLASS_NAME, "labels": {"app.kubernetes.io/managed-by": MANAGED_BY}},
        "handler": "nvidia",
    }


def _security_context(mig_strategy):
    if mig_strategy == "none":
        return {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    # As upstream's chart: watching MIG devices' health through NVML needs CAP_SYS_ADMIN
    # (and the API refuses allowPrivilegeEscalation=false together with it).
    return {"capabilities": {"add": ["SYS_ADMIN"]}}


def daemonset_manifest(spec: DevicePluginSpec, config_text):
    env = [
        # Flags given as variables would override the config file; only its path is passed.
        {"name": "CONFIG_FILE", "value": "%s/%s" % (CONFIG_DIR, CONFIG_KEY)},
        # What the NVIDIA runtime mounts into the plugin's own container: every GPU, NVML.
        {"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"},
        {"name": "NVIDIA_DRIVER_CAPABILITIES", "value": "compute,utility"},
    ]
    if spec["mig_strategy"] != "none":
        env.append({"name": "NVIDIA_MIG_MONITOR_DEVICES", "value": "all"})
    tolerations = [dict(t) for t in DEFAULT_TOLERATIONS]
    tolerations += [t for t in spec["tolerations"] if t not in tolerations]
    pod_spec = {
        # The plugin talks to the kubelet over its socket, never to the API server.
        "automountServiceAccountToken": False,
        "affinity": copy.deepcopy(GPU_NODE_AFFINITY),
        "tolerations": tolerations,
        "containers": [{
            "name": "nvidia-device-plugin-ctr",
            "image": spec["image"],
            "command": ["nvidia-device-plugin"],
            "env": env,
            "securityContext": _security_context(spec["mig_strategy"]),
            "volumeMounts": [
                {"name": "kubelet-device-plugins-dir", "mountPath": DEVICE_PLUGIN_DIR},
                {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
            ],
        }],
        "volumes": [
            {"name": "kubelet-device-plugins-dir", "hostPath": {"path": DEVICE_PLUGIN_DIR, "type": "Directory"}},
            {"name": "config", "configMap": {"name": CONFIG_MAP_NAME}},
        ],
    }
    if spec["priority_class_name"]:
        pod_spec["priorityClassName"] = spec["priority_class_name"]
    if spec["runtime_class"]:
        # Without it the plugin only sees the GPUs where nvidia is the node's default runtime.
        pod_spec["runtimeClassName"] = RUNTIME_CLASS_NAME
    if spec["node_selector"]:
        pod_spec["nodeSelector"] = dict(spec["node_selector"])
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": NAME, "namespace": spec["namespace"], "labels": dict(COMMON_LABELS)},
        "spec": {
            "selector": {"matchLabels": dict(SELECTOR_LABELS)},
            "updateStrategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {
                    "labels": dict(COMMON_LABELS),
                    "annotations": {CONFIG_HASH_ANNOTATION: config_digest(config_text)},
                },
                "spec": pod_spec,
            },
        },
    }


def build_manifests(spec: DevicePluginSpec):
    """Validated spec -> objects in apply order: Namespace, ConfigMap, RuntimeClass (optional), DaemonSet.

    The RuntimeClass comes before the DaemonSet because the API refuses pods naming a missing one.
    """
    config_map = config_map_manifest(spec)
    objects = [namespace_manifest(spec), config_map]
    if spec["runtime_class"]:
        objects.append(runtime_class_manifest())
    objects.append(daemonset_manifest(spec, config_map["data"][CONFIG_KEY]))
    return objects


def runtime_class_users(daemonsets: List[Dict[str, Any]], namespace: str) -> List[str]:
    """The DaemonSets, other than this install's own in namespace, whose pods run under the RuntimeClass nvidia,
    as "namespace/name" strings.

    The RuntimeClass is cluster-wide and every install writes the same one, so removing one install must keep it
    while another DaemonSet still names it (a second install of the plugin, or one made by Helm): the API would
    refuse that DaemonSet's next pods. A DaemonSet already being deleted relies on nothing.
    """
    users = []
    for daemonset in daemonsets:
        metadata = daemonset.get("metadata") or {}
        if metadata.get("deletionTimestamp") or (metadata.get("namespace"), metadata.get("name")) == (namespace, NAME):
            continue
        template = ((daemonset.get("spec") or {}).get("template") or {}).get("spec") or {}
        if template.get("runtimeClassName") == RUNTIME_CLASS_NAME:
            users.append("%s/%s" % (metadata.get("namespace"), metadata.get("name")))
    return sorted(users)
