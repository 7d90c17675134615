# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inference stack's spec: every option checked, defaults filled in, before anything is built.

`validate(params)` takes the module's options (a plain dict; missing ones take their defaults)
and returns a complete spec that the builders read without checking anything again. Each wrong
input raises SpecError with the option's path, what is wrong and the fix. Nothing here talks to
the API: checks that need the cluster (a MIG profile no node advertises) live in `cluster_warnings`.
"""

from __future__ import annotations

import copy
import json
import re
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Dict, List, NoReturn, Optional, Sequence, Set, cast

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.errors import InputError
from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.resources import (
    ALL_KNOWN_PROFILES,
    GPU,
    GPU_INSTANCE_PROFILE,
    KNOWN_PROFILES_WITHOUT_A_DEVICE,
    MIG_STRATEGIES,
    classify,
    mig_family,
    mig_resource,
)
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.options import option_defaults
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.validate import (
    DNS_LABEL,
    valid_image,
    valid_label_value,
    valid_labels,
    valid_toleration,
    with_defaults,
)
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack import runtimes as rt
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.builders import warmup as warmup_builder
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.options import STACK_OPTIONS
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.runtimes import kserve as kserve_runtime

if TYPE_CHECKING:
    from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.runtimes.base import Runtime
    from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.shapes import GpuSpec, KserveSpec, ModelSpec, StackSpec, TensorSpec, WarmupSpec

# Top-level defaults for a plain dict of options, as the module's params would have them.
DEFAULTS: Dict[str, Any] = option_defaults(STACK_OPTIONS)

MODEL_OPTIONS = (
    "name", "pvc", "path", "storage_uri", "versions", "version_policy", "latest_versions", "version_labels",
    "backend", "max_batch_size", "instance_kind", "inputs", "outputs", "mar_file", "version", "format", "format_version",
)
GPU_OPTIONS = ("count", "resource", "mig_profile", "mig_strategy", "product")
WARMUP_OPTIONS = ("count", "body", "content_type", "inputs", "image", "listen_port", "poll_interval_s", "request_timeout_s")
KSERVE_OPTIONS = ("deployment_mode", "protocol", "runtime", "canary_traffic_percent", "max_replicas", "scale_metric", "scale_target")
SPREAD_CHOICES = ("none", "prefer", "require")
# Triton backends that do not complete a model configuration from the model file: inputs and outputs must be given.
NO_AUTOCOMPLETE_BACKENDS = ("pytorch", "python")
VERSION_POLICIES = ("latest", "all", "specific")

# Labels the stack selects its pods by: a user label may not change them.
SELECTOR_KEYS = ("app.kubernetes.io/instance", "app.kubernetes.io/component")

_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_URI = re.compile(r"^([a-z][a-z0-9+.-]*)://(.+)$")

_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")
_SUFFIX = {
    None: Decimal(1), "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "k": Decimal("1e3"), "M": Decimal("1e6"),
    "G": Decimal("1e9"), "T": Decimal("1e12"), "P": Decimal("1e15"), "E": Decimal("1e18"),
    "Ki": Decimal(2 ** 10), "Mi": Decimal(2 ** 20), "Gi": Decimal(2 ** 30), "Ti": Decimal(2 ** 40), "Pi": Decimal(2 ** 50), "Ei": Decimal(2 ** 60),
}


class SpecError(InputError):
    """A wrong option: the message names it and says how to fix it."""


def _fail(path: str, problem: str, fix: str) -> NoReturn:
    raise SpecError("%s: %s. %s" % (path, problem, fix))


def _mapping(path, value, known, example):
    if value is None:
        return {}
    if not isinstance(value, dict):
        _fail(path, "expected a mapping, got %s" % type(value).__name__, "For example %s." % example)
    # Ansible fills every suboption in, unset ones as None: only set ones count.
    value = {k: v for k, v in value.items() if v is not None}
    unknown = sorted(set(value) - set(known))
    if unknown:
        _fail(path, "unknown option(s) %s" % ", ".join(map(str, unknown)), "Known options: %s." % ", ".join(known))
    return value


def _whole(path, value, minimum=0, maximum=None, what="a whole number"):
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        else:
            _fail(path, "expected %s, got %r" % (what, value), "Give a whole number of at least %d." % minimum)
    if value < minimum or (maximum is not None and value > maximum):
        bounds = "%d to %d" % (minimum, maximum) if maximum is not None else "%d or more" % minimum
        _fail(path, "must be %s, got %d" % (bounds, value), "Give a value of %s." % bounds)
    return value


def _string(path, value, example):
    if not isinstance(value, str) or not value:
        _fail(path, "expected a non-empty string, got %r" % (value,), "For example %s; quote it in YAML." % example)
    return value


def parse_quantity(path, value):
    """A Kubernetes quantity (500m, 8Gi, 2, 1.5) as a Decimal, for comparing requests with limits."""
    if isinstance(value, bool):
        _fail(path, "expected a quantity, got %r" % value, "For example '2' for CPUs or 8Gi for memory.")
    text = str(value).strip()
    match = _QUANTITY.match(text)
    try:
        if not match:
            raise InvalidOperation(text)
        return Decimal(match.group(1)) * _SUFFIX[match.group(2)]
    except InvalidOperation:
        _fail(path, "%r is not a Kubernetes quantity" % (value,), "For example 500m or '2' for CPUs, 8Gi for memory.")
    return None


def _name(path, value, max_length=63, dns1035=False):
    if not isinstance(value, str) or not value:
        _fail(path, "expected a name, got %r" % (value,), "Give a DNS-1123 label, for example resnet50.")
    if len(value) > max_length:
        _fail(path, "%s is %d characters long, longer than %d" % (value, len(value), max_length),
              "Use at most %d lower-case letters, digits and '-'." % max_length)
    if not DNS_LABEL.match(value):
        _fail(path, "%r is not a DNS-1123 label" % value,
              "Use lower-case letters, digits and '-', starting and ending with a letter or digit, for example %s."
              % (re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-") or "model"))
    if dns1035 and not value[0].isalpha():
        _fail(path, "%s starts with a digit; the Service named after it must start with a letter" % value,
              "Start the name with a letter, for example m-%s." % value)
    return value


def _labels(path, value, example="{team: vision}"):
    return valid_labels(path, value, example)


def _storage(runtime, model):
    """runtime: the Runtime object (its storage_schemes)."""
    pvc, uri = model.get("pvc"), model.get("storage_uri")
    if pvc and uri:
        _fail("model", "both pvc and storage_uri are set", "Give one: pvc (with path) or storage_uri.")
    path = model.get("path", "")
    if not isinstance(path, str) or path.startswith("/") or ".." in path.split("/"):
        _fail("model.path", "%r is not a path inside the volume" % (path,), "Give a relative path such as models/resnet50.")
    path = path.strip("/")
    if pvc:
        return {"pvc": _name("model.pvc", pvc, 253), "path": path, "storage_uri": None, "scheme": "pvc"}
    if not uri:
        supported = runtime.storage_schemes
        _fail("model", "no model source", "Set model.pvc (and model.path)%s." % (
            " or model.storage_uri (%s)" % ", ".join("%s://" % s for s in supported) if supported else ""))
    if model.get("path"):
        _fail("model.path", "path applies to model.pvc only", "Put the path into model.storage_uri.")
    match = _URI.match(uri) if isinstance(uri, str) else None
    if not match:
        _fail("model.storage_uri", "%r is not a URI" % (uri,), "For example gs://bucket/models/resnet50.")
    scheme = match.group(1)
    supported = runtime.storage_schemes
    if scheme not in supported:
        if not supported:
            fix = ("%s reads its model repository from a PVC here (the module writes the model configuration beside the "
                   "versions): set model.pvc and model.path, or use runtime kserve for a storage URI." % runtime.name)
        else:
            fix = "%s supports %s, or model.pvc." % (runtime.name, ", ".join("%s://" % s for s in supported))
        _fail("model.storage_uri", "%s:// is not a scheme %s can read" % (scheme, runtime.name), fix)
    return {"pvc": None, "path": "", "storage_uri": uri, "scheme": scheme}


def _versions(runtime, model):
    versions = model.get("versions")
    if versions is not None:
        if runtime.versions is None:
            _fail("model.versions", "applies to tensorflow_serving, triton and onnxruntime",
                  runtime.versions_fix or "Leave it out for %s." % runtime.name)
        if not isinstance(versions, list) or not versions:
            _fail("model.versions", "expected a list of version numbers", "For example [1, 2].")
        versions = [_whole("model.versions[%d]" % i, v, 1) for i, v in enumerate(versions)]
        if len(set(versions)) != len(versions):
            _fail("model.versions", "lists a version more than once", "List each version once.")
    policy = model.get("version_policy")
    if policy is not None and policy not in VERSION_POLICIES:
        _fail("model.version_policy", "%r is not a version policy" % (policy,), "Use latest, all or specific.")
    if policy and runtime.versions is None:
        _fail("model.version_policy", "applies to tensorflow_serving, triton and onnxruntime", "Leave it out for %s." % runtime.name)
    if runtime.versions == "mounted":
        # The versions are the directories mounted from the PVC: Triton serves exactly those.
        if policy not in (None, "specific"):
            _fail("model.version_policy", "%s serves the versions the module mounts from the PVC" % runtime.name,
                  "List them in model.versions (policy specific), or leave version_policy out.")
        return {"versions": versions or [1], "version_policy": "specific", "latest_versions": None, "version_labels": {}}
    if runtime.versions != "policy":
        for option in ("latest_versions", "version_labels"):
            if model.get(option) is not None:
                _fail("model.%s" % option, "applies to tensorflow_serving only", "Leave it out for %s." % runtime.name)
        return {"versions": None, "version_policy": None, "latest_versions": None, "version_labels": {}}
    if policy is None:
        policy = "specific" if versions else "latest"
    if policy == "specific" and not versions:
        _fail("model.versions", "version_policy specific needs the versions", "List them, for example [1, 2].")
    if policy != "specific" and versions:
        _fail("model.versions", "versions apply to version_policy specific", "Set version_policy: specific, or leave versions out.")
    latest = model.get("latest_versions")
    if latest is not None and policy != "latest":
        _fail("model.latest_versions", "applies to version_policy latest", "Leave it out, or set version_policy: latest.")
    latest = _whole("model.latest_versions", latest, 1) if latest is not None else (1 if policy == "latest" else None)
    labels = model.get("version_labels") or {}
    if not isinstance(labels, dict):
        _fail("model.version_labels", "expected a mapping of label to version", "For example {stable: 1, canary: 2}.")
    checked = {}
    for label, version in labels.items():
        if not isinstance(label, str) or not _MODEL_NAME.match(label):
            _fail("model.version_labels", "%r is not a label name" % (label,), "Use letters, digits, '_', '-' or '.'.")
        checked[label] = _whole("model.version_labels.%s" % label, version, 1, what="a version number")
        if policy == "specific" and checked[label] not in versions:
            _fail("model.version_labels.%s" % label, "version %d is not among model.versions %s" % (checked[label], versions),
                  "Label a version that is served, or add it to model.versions.")
    return {"versions": versions, "version_policy": policy, "latest_versions": latest, "version_labels": checked}


def _model(runtime: Runtime, value: Any, kserve: KserveSpec) -> ModelSpec:
    model = _mapping("model", value, MODEL_OPTIONS, "{name: resnet50, pvc: models, path: resnet50}")
    if not model.get("name"):
        _fail("model.name", "is required", "Name the model as clients call it, for example resnet50.")
    name = model["name"]
    if not isinstance(name, str) or not _MODEL_NAME.match(name):
        _fail("model.name", "%r is not a model name" % (name,), "Use up to 63 letters, digits, '_', '-' or '.', for example resnet50.")
    spec: Dict[str, Any] = {"name": name}
    spec.update(_storage(runtime, model))
    spec.update(_versions(runtime, model))
    options = runtime.all_model_options()
    # Triton's model configuration options (triton and onnxruntime read them)
    triton = "backend" in options
    backend = model.get("backend")
    if backend is not None and not triton:
        _fail("model.backend", "applies to triton only", "Leave it out for %s." % runtime.name)
    fixed = runtime.fixed_backend
    if fixed and backend not in (None, fixed):
        _fail("model.backend", "runtime %s is Triton's %s backend" % (runtime.name, fixed), "Use runtime triton for backend %s." % backend)
    if triton:
        backend = backend or fixed
        if backend not in runtime.backends:
            _fail("model.backend", "%r is not a Triton backend" % (backend,), "Use one of %s." % ", ".join(runtime.backends))
    spec["backend"] = backend
    batch = model.get("max_batch_size")
    if batch is not None and not triton:
        _fail("model.max_batch_size", "applies to triton only", "Leave it out for %s." % runtime.name)
    spec["max_batch_size"] = _whole("model.max_batch_size", batch, 0) if batch is not None else (0 if triton else None)
    kind = model.get("instance_kind")
    if kind is not None and not triton:
        _fail("model.instance_kind", "applies to triton only", "Leave it out for %s." % runtime.name)
    if kind is not None and kind not in runtime.instance_kinds:
        _fail("model.instance_kind", "%r is not an instance kind" % (kind,), "Use one of %s." % ", ".join(runtime.instance_kinds))
    # None: the runtime decides (Triton: on the pod's GPUs when it asks for some)
    spec["instance_kind"] = kind
    for option in ("inputs", "outputs"):
        tensors = model.get(option)
        if tensors is not None and not triton:
            _fail("model.%s" % option, "applies to triton only", "Leave it out for %s." % runtime.name)
        if tensors is not None and (not isinstance(tensors, list) or not tensors):
            _fail("model.%s" % option, "expected a list of tensors", "For example [{name: x, data_type: TYPE_FP32, dims: [4]}].")
        spec[option] = [_tensor("model.%s[%d]" % (option, i), t, runtime.data_types, variable=True) for i, t in enumerate(tensors or [])]
        if triton and not tensors and backend in NO_AUTOCOMPLETE_BACKENDS:
            _fail("model.%s" % option, "Triton's %s backend cannot read the model's %s from the model file" % (backend, option),
                  "List them, for example [{name: INPUT__0, data_type: TYPE_FP32, dims: [3, 224, 224]}].")
    for option in ("mar_file", "version"):
        if model.get(option) is not None and option not in options:
            _fail("model.%s" % option, "applies to torchserve only", "Leave it out for %s." % runtime.name)
    # TorchServe's model archive
    if "mar_file" in options:
        mar = model.get("mar_file", "%s.mar" % name)
        if spec["storage_uri"]:
            if model.get("mar_file"):
                _fail("model.mar_file", "the archive is the storage_uri", "Leave mar_file out, or use model.pvc.")
            mar = spec["storage_uri"]
        elif not isinstance(mar, str) or "/" in mar or not mar.endswith(".mar"):
            _fail("model.mar_file", "%r is not a model archive file name" % (mar,), "Give the .mar file in model.path, e.g. %s.mar." % name)
        spec["mar_file"] = mar
        version = model.get("version", "1.0")
        if not isinstance(version, str):
            _fail("model.version", "expected a string, got %r" % (version,), "Quote it in YAML, for example '1.0'.")
        spec["version"] = version
    for option in ("format", "format_version"):
        if model.get(option) is not None and option not in options:
            _fail("model.%s" % option, "applies to kserve only", "Leave it out for %s." % runtime.name)
    # KServe's model format
    if "format" in options:
        fmt = model.get("format")
        if not fmt or not isinstance(fmt, str):
            _fail("model.format", "is required for kserve", "Name the model format, for example sklearn, xgboost, onnx or tensorflow.")
        if not kserve.get("runtime") and fmt not in kserve_runtime.IMAGES:
            _fail("model.format", "the module renders a ServingRuntime for %s only" % ", ".join(sorted(kserve_runtime.IMAGES)),
                  "Set kserve.runtime to the (Cluster)ServingRuntime that serves %s." % fmt)
        spec["format"] = fmt
        fmt_version = model.get("format_version")
        if fmt_version is not None and not isinstance(fmt_version, str):
            _fail("model.format_version", "expected a string, got %r" % (fmt_version,), "Quote it in YAML, for example '1'.")
        spec["format_version"] = fmt_version
    return cast("ModelSpec", spec)  # built key by key above


def _kserve(runtime: Runtime, value: Any, replicas: int) -> KserveSpec:
    kserve = _mapping("kserve", value, KSERVE_OPTIONS, "{deployment_mode: Standard, protocol: v2}")
    if kserve and not runtime.kserve_options:
        _fail("kserve", "applies to runtime kserve only", "Leave it out for %s." % runtime.name)
    mode = kserve.get("deployment_mode", "Standard")
    if mode in kserve_runtime.LEGACY_MODES:
        _fail("kserve.deployment_mode", "%s is KServe's old name" % mode, "Use %s." % kserve_runtime.LEGACY_MODES[mode])
    if mode not in kserve_runtime.DEPLOYMENT_MODES:
        _fail("kserve.deployment_mode", "%r is not a KServe deployment mode" % (mode,),
              "Use Standard (a Deployment) or Knative (a Knative Service, scale to zero).")
    protocol = kserve.get("protocol", "v1")
    if protocol not in kserve_runtime.PROTOCOLS:
        _fail("kserve.protocol", "%r is not a protocol" % (protocol,), "Use v1 (KServe V1) or v2 (Open Inference Protocol).")
    runtime_name = kserve.get("runtime")
    if runtime_name is not None:
        _name("kserve.runtime", runtime_name, 253)
    canary = kserve.get("canary_traffic_percent")
    if canary is not None:
        canary = _whole("kserve.canary_traffic_percent", canary, 0, 100, what="a percentage")
    # KServe's own autoscaler: replicas is its minimum, max_replicas its maximum (equal by default: no scaling)
    max_replicas = kserve.get("max_replicas")
    if max_replicas is None:
        max_replicas = max(replicas, 1)
    else:
        max_replicas = _whole("kserve.max_replicas", max_replicas, 1)
        if max_replicas < replicas:
            _fail("kserve.max_replicas", "%d is below replicas (%d), KServe's minimum" % (max_replicas, replicas),
                  "Give max_replicas of at least %d, or lower replicas." % replicas)
    metric = kserve.get("scale_metric")
    if metric is not None and metric not in kserve_runtime.SCALE_METRICS[mode]:
        _fail("kserve.scale_metric", "%r is not a metric KServe scales on in %s mode" % (metric, mode),
              "Use %s; concurrency and rps need deployment_mode Knative." % " or ".join(kserve_runtime.SCALE_METRICS[mode]))
    target = kserve.get("scale_target")
    if target is not None:
        target = _whole("kserve.scale_target", target, 1)
        if metric is None:
            _fail("kserve.scale_target", "a target without a metric", "Set kserve.scale_metric too, for example cpu.")
    return {"deployment_mode": mode, "protocol": protocol, "runtime": runtime_name, "canary_traffic_percent": canary,
            "max_replicas": max_replicas, "scale_metric": metric, "scale_target": target}


def _gpu(value: Any) -> Optional[GpuSpec]:
    gpu = _mapping("gpu", value, GPU_OPTIONS, "{count: 1, product: NVIDIA-H100-80GB-HBM3}")
    if not gpu:
        return None
    count = gpu.get("count", 1)
    if isinstance(count, float) and count.is_integer():
        count = int(count)
    if isinstance(count, (float, Decimal)) or (isinstance(count, str) and not count.strip().isdigit()):
        _fail("gpu.count", "%r is a fraction of a GPU; extended resources take whole numbers only" % (count,),
              "Request whole GPUs, or share them: a MIG profile (gpu.mig_profile) or a time-sliced resource "
              "(gpu.resource: nvidia.com/gpu.shared).")
    count = _whole("gpu.count", count, 1)
    product = gpu.get("product")
    if product is not None:
        product = valid_label_value("gpu.product", product)
    strategy = gpu.get("mig_strategy", "mixed")
    profile = gpu.get("mig_profile")
    resource = gpu.get("resource")
    if profile is not None and resource is not None:
        _fail("gpu", "mig_profile and resource both name the resource", "Give one of them.")
    if profile is None:
        # mig_strategy only matters for a MIG profile (the module's option has a default, so it is always there)
        resource = resource or "nvidia.com/gpu"
        if not isinstance(resource, str) or not classify(resource):
            _fail("gpu.resource", "%r is not a resource the NVIDIA device plugin advertises" % (resource,),
                  "Use nvidia.com/gpu, nvidia.com/gpu.shared (time-slicing) or set gpu.mig_profile.")
        return {"resource": resource, "count": count, "product": product, "mig_profile": None}
    if not isinstance(profile, str) or not GPU_INSTANCE_PROFILE.match(profile):
        _fail("gpu.mig_profile", "%r is not a MIG profile name" % (profile,), "Use <slices>g.<memory>gb, for example 1g.10gb.")
    if strategy == "none":
        _fail("gpu.mig_strategy", "the none strategy advertises whole GPUs only, so no %s device exists" % profile,
              "Use mixed (nvidia.com/mig-<profile> resources) or single, as the device plugin is configured.")
    if strategy not in MIG_STRATEGIES:
        _fail("gpu.mig_strategy", "%r is not a MIG strategy" % (strategy,), "Use mixed or single.")
    # No device is at hand here: the profile is checked against the known models' profiles.
    if profile not in ALL_KNOWN_PROFILES:
        _fail("gpu.mig_profile", "no GPU model has a MIG profile %s" % profile,
              "Use a real profile, for example %s." % ", ".join(KNOWN_PROFILES_WITHOUT_A_DEVICE["A100-80GB"][:4]))
    if product:
        family = mig_family(product)
        if family and profile not in KNOWN_PROFILES_WITHOUT_A_DEVICE[family]:
            _fail("gpu.mig_profile", "a %s cannot be partitioned into %s" % (product, profile),
                  "Use one of its profiles: %s." % ", ".join(KNOWN_PROFILES_WITHOUT_A_DEVICE[family]))
    if strategy == "single":
        # The single strategy advertises MIG devices as nvidia.com/gpu and names the profile in the product label.
        if not product:
            _fail("gpu.product", "with mig_strategy single, the MIG profile is chosen by the product label",
                  "Set gpu.product to the GPU's name, for example NVIDIA-A100-SXM4-80GB.")
        return {"resource": GPU, "count": count, "product": "%s-MIG-%s" % (product, profile), "mig_profile": profile}
    return {"resource": mig_resource(profile), "count": count, "product": product, "mig_profile": profile}


def _resources(value: Any, gpu: Optional[GpuSpec]) -> Dict[str, Dict[str, Any]]:
    resources = _mapping("resources", value, ("requests", "limits"), "{requests: {cpu: '2', memory: 8Gi}, limits: {memory: 8Gi}}")
    checked: Dict[str, Dict[str, Any]] = {}
    for part in ("requests", "limits"):
        entries = resources.get(part) or {}
        if not isinstance(entries, dict):
            _fail("resources.%s" % part, "expected a mapping of resource to quantity", "For example {cpu: '2', memory: 8Gi}.")
        checked[part] = {}
        for key, quantity in entries.items():
            path = "resources.%s.%s" % (part, key)
            amount = parse_quantity(path, quantity)
            if "/" in str(key):
                if amount != amount.to_integral_value() or amount < 0 or isinstance(quantity, float) and not quantity.is_integer():
                    _fail(path, "%r is a fraction; %s is an extended resource and takes whole numbers only" % (quantity, key),
                          "Request whole devices, or share GPUs by MIG (gpu.mig_profile) or time-slicing (nvidia.com/gpu.shared).")
                quantity = int(amount)
            checked[part][key] = quantity if isinstance(quantity, str) or "/" in str(key) else str(quantity)
    if gpu:
        for part in ("requests", "limits"):
            if gpu["resource"] in checked[part]:
                _fail("resources.%s.%s" % (part, gpu["resource"]), "also set by gpu", "Set the GPU request in one place: gpu.")
            checked[part][gpu["resource"]] = gpu["count"]
    for key in set(checked["requests"]) | set(checked["limits"]):
        if "/" not in key:
            continue
        request, limit = checked["requests"].get(key), checked["limits"].get(key)
        if limit is None:
            checked["limits"][key] = request
        elif request is None:
            checked["requests"][key] = limit
        elif request != limit:
            _fail("resources.requests.%s" % key, "requests (%s) differ from limits (%s); extended resources cannot be overcommitted"
                  % (request, limit), "Set the same number in requests and limits, or only in limits.")
    for key in checked["requests"]:
        if key in checked["limits"] and "/" not in key:
            request = parse_quantity("resources.requests.%s" % key, checked["requests"][key])
            limit = parse_quantity("resources.limits.%s" % key, checked["limits"][key])
            if request > limit:
                _fail("resources.requests.%s" % key, "the request %s is above the limit %s"
                      % (checked["requests"][key], checked["limits"][key]),
                      "Lower the request or raise the limit: a request can be at most the limit.")
    nvidia = sorted(k for k in checked["limits"] if k.startswith("nvidia.com/"))
    whole = [k for k in nvidia if k.split("/", 1)[1].startswith("gpu")]
    mig = [k for k in nvidia if k.split("/", 1)[1].startswith("mig-")]
    if whole and mig:
        _fail("resources.limits", "%s and %s in one container: the device plugin's behaviour is undefined"
              % (whole[0], mig[0]), "Request either whole GPUs or MIG devices, not both.")
    return checked


def _ports(runtime: Runtime, value: Any, warmup: Optional[WarmupSpec]) -> Dict[str, int]:
    ports = dict(runtime.ports)
    given = _mapping("ports", value, sorted(ports), "{http: 9000}")
    for name, port in given.items():
        ports[name] = _whole("ports.%s" % name, port, 1, 65535, what="a port number")
    taken = {}
    if warmup:
        taken[warmup["listen_port"]] = "warmup.listen_port"
    for name in sorted(ports):
        port = ports[name]
        if port in taken:
            _fail("ports.%s" % name, "port %d is also %s" % (port, taken[port]), "Give each port its own number.")
        taken[port] = "ports.%s" % name
    return ports


def _warmup(runtime: Runtime, value: Any, model_name: str, model_inputs: Optional[Sequence[TensorSpec]] = ()) -> Optional[WarmupSpec]:
    warmup = _mapping("warmup", value, WARMUP_OPTIONS, "{count: 10, body: {instances: [[1.0, 2.0]]}}")
    if not warmup:
        return None
    checked: Dict[str, Any] = {
        "count": _whole("warmup.count", warmup.get("count", 10), 1),
        "listen_port": _whole("warmup.listen_port", warmup.get("listen_port", warmup_builder.PORT), 1, 65535, what="a port number"),
        "image": valid_image("warmup.image", warmup.get("image", warmup_builder.IMAGE), warmup_builder.IMAGE),
    }
    for option, default in (("poll_interval_s", 1.0), ("request_timeout_s", 10.0)):
        number = warmup.get(option, default)
        if isinstance(number, bool) or not isinstance(number, (int, float)) or number <= 0:
            _fail("warmup.%s" % option, "expected a positive number of seconds, got %r" % (number,), "For example %s." % default)
        checked[option] = float(number)
    if runtime.native_warmup:
        if warmup.get("body") is not None:
            _fail("warmup.body", "Triton warms itself with model_warmup in the model configuration",
                  "Describe the sample input in warmup.inputs (name, data_type, dims) instead.")
        inputs = warmup.get("inputs")
        if inputs is None and model_inputs:
            if any(-1 in t["dims"] for t in model_inputs):
                _fail("warmup.inputs", "model.inputs has variable dimensions (-1), and a warmup sample needs fixed ones",
                      "Give warmup.inputs with the sample's dims.")
            checked["inputs"] = [dict(t) for t in model_inputs]
            return cast("WarmupSpec", checked)  # built key by key, as are the two below
        if not isinstance(inputs, list) or not inputs:
            _fail("warmup.inputs", "Triton's model_warmup needs each input's name, data_type and dims",
                  "For example [{name: input, data_type: TYPE_FP32, dims: [3, 224, 224]}], or list them in model.inputs.")
        checked["inputs"] = [_tensor("warmup.inputs[%d]" % i, entry, runtime.data_types) for i, entry in enumerate(inputs)]
        return cast("WarmupSpec", checked)
    if warmup.get("inputs") is not None:
        _fail("warmup.inputs", "applies to triton and onnxruntime", "Give a sample request in warmup.body for %s." % runtime.name)
    body = warmup.get("body")
    if body is None:
        _fail("warmup.body", "the warmup sidecar needs a sample request for %s" % model_name,
              "Give the JSON body of one inference request, for example {instances: [[1.0, 2.0]]}.")
    checked["body"] = body if isinstance(body, str) else json.dumps(body, sort_keys=True)
    content_type = warmup.get("content_type", "application/json")
    checked["content_type"] = _string("warmup.content_type", content_type, "application/json")
    return cast("WarmupSpec", checked)


def _tensor(path: str, entry: Any, data_types: Sequence[str], variable: bool = False) -> TensorSpec:
    entry = _mapping(path, entry, ("name", "data_type", "dims"), "{name: input, data_type: TYPE_FP32, dims: [4]}")
    name = _string(path + ".name", entry.get("name"), "input__0")
    data_type = entry.get("data_type")
    if data_type not in data_types:
        _fail(path + ".data_type", "%r is not a Triton data type" % (data_type,), "Use one of %s." % ", ".join(data_types))
    dims = entry.get("dims")
    if not isinstance(dims, list) or not dims:
        _fail(path + ".dims", "expected a list of dimensions", "For example [3, 224, 224] (without the batch dimension).")
    checked: List[int] = []
    for i, dim in enumerate(dims):
        if variable and dim == -1:
            checked.append(-1)
        else:
            checked.append(_whole("%s.dims[%d]" % (path, i), dim, 1, what="a dimension (-1 for a variable one)" if variable else "a dimension"))
    return {"name": name, "data_type": data_type, "dims": checked}


def _overrides(value):
    if not isinstance(value, list):
        _fail("overrides", "expected a list of partial objects", "For example [{kind: Deployment, spec: {revisionHistoryLimit: 3}}].")
    checked = []
    for index, entry in enumerate(value):
        path = "overrides[%d]" % index
        if not isinstance(entry, dict) or not isinstance(entry.get("kind"), str):
            _fail(path, "expected a partial object with at least kind", "For example {kind: Deployment, spec: {...}}.")
        api_version = entry.get("apiVersion")
        if isinstance(api_version, str) and api_version.startswith("serving.kubeflow.org/"):
            _fail(path + ".apiVersion", "%s is the retired KFServing API" % api_version,
                  "Use serving.kserve.io/v1beta1 (KServe replaced KFServing).")
        reject_booleans_in_labels(path, entry)
        checked.append(copy.deepcopy(entry))
    return checked


def reject_booleans_in_labels(path, obj):
    """Labels, annotations and selectors anywhere in a raw object must be strings, not YAML booleans."""
    if isinstance(obj, dict):
        for key, child in obj.items():
            if key in ("labels", "annotations", "matchLabels", "nodeSelector") and isinstance(child, dict):
                for label, label_value in child.items():
                    if not isinstance(label_value, str):
                        _fail("%s.%s.%s" % (path, key, label), "values are strings, got %s %r" % (type(label_value).__name__, label_value),
                              "Quote it in YAML, for example '%s'." % str(label_value).lower())
            else:
                reject_booleans_in_labels("%s.%s" % (path, key), child)
    elif isinstance(obj, list):
        for index, child in enumerate(obj):
            reject_booleans_in_labels("%s[%d]" % (path, index), child)


def validate(params: Dict[str, Any]) -> StackSpec:
    """A complete, checked spec from the module's options; SpecError names the first wrong one."""
    merged = with_defaults(params, DEFAULTS, "inference stack")
    names = list(rt.RUNTIMES)
    if merged["runtime"] not in names:
        _fail("runtime", "%r is not a runtime this module deploys" % (merged["runtime"],), "Use one of %s." % ", ".join(names))
    runtime = rt.get(merged["runtime"])
    name = _name("name", merged["name"], runtime.max_name_length, dns1035=True)
    namespace = _name("namespace", merged["namespace"])
    replicas = merged["replicas"]
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
        _fail("replicas", "must be a whole number 0 or more, got %r" % (replicas,), "For example 2; 0 stops serving.")
    kserve = _kserve(runtime, merged["kserve"], replicas)
    model = _model(runtime, merged["model"], kserve)
    gpu = _gpu(merged["gpu"])
    resources = _resources(merged["resources"], gpu)
    node_selector = _labels("node_selector", merged["node_selector"], "{nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}")
    if gpu and gpu["product"]:
        given = node_selector.get("nvidia.com/gpu.product")
        if given is not None and given != gpu["product"]:
            _fail("node_selector.nvidia.com/gpu.product", "differs from gpu.product (%s)" % gpu["product"], "Set the product in gpu.product only.")
        node_selector["nvidia.com/gpu.product"] = gpu["product"]
    if not isinstance(merged["tolerations"], list):
        _fail("tolerations", "expected a list, got %s" % type(merged["tolerations"]).__name__, "Give a list of tolerations.")
    tolerations = [valid_toleration(i, t) for i, t in enumerate(merged["tolerations"])]
    if merged["spread"] not in SPREAD_CHOICES:
        _fail("spread", "%r is not a choice" % (merged["spread"],), "Use none, prefer or require.")
    labels = _labels("labels", merged["labels"])
    for key in SELECTOR_KEYS:
        if key in labels:
            _fail("labels.%s" % key, "the stack selects its pods by this label", "Use another label key.")
    warmup = _warmup(runtime, merged["warmup"], model["name"], model.get("inputs"))
    ports = _ports(runtime, merged["ports"], warmup)
    image = merged["image"]
    if image is None:
        image = runtime.default_image(gpu, model, kserve)
    elif kserve["runtime"]:
        _fail("image", "kserve.runtime %s brings its own image" % kserve["runtime"], "Leave image out, or leave kserve.runtime out.")
    if image is not None:
        valid_image("image", image, runtime.image_example(model))
    max_unavailable = merged["max_unavailable"]
    if isinstance(max_unavailable, str) and re.match(r"^[0-9]{1,3}%$", max_unavailable):
        pass
    else:
        max_unavailable = _whole("max_unavailable", max_unavailable, 0, what="a number of pods or a percentage such as '25%'")
    if not isinstance(merged["read_only_root_filesystem"], bool):
        _fail("read_only_root_filesystem", "expected true or false", "Set true or false.")
    service_account = merged["service_account"]
    if service_account is not None:
        service_account = _name("service_account", service_account, 253)
    if not isinstance(merged["service_account_token"], bool):
        _fail("service_account_token", "expected true or false", "Set true only when the model server calls the Kubernetes API.")
    if not isinstance(merged["create_namespace"], bool):
        _fail("create_namespace", "expected true or false", "Set true or false.")
    return {
        "name": name,
        "namespace": namespace,
        "runtime": runtime.name,
        "image": image,
        "model": model,
        "replicas": replicas,
        "resources": resources,
        "gpu": gpu,
        "node_selector": node_selector,
        "tolerations": tolerations,
        "spread": merged["spread"],
        "labels": labels,
        "ports": ports,
        "startup_timeout": _whole("startup_timeout", merged["startup_timeout"], 10),
        "termination_grace_period": _whole("termination_grace_period", merged["termination_grace_period"], 0),
        "max_unavailable": max_unavailable,
        "read_only_root_filesystem": merged["read_only_root_filesystem"],
        "service_account": service_account,
        "service_account_token": merged["service_account_token"],
        "warmup": warmup,
        "kserve": kserve,
        "overrides": _overrides(merged["overrides"]),
        "create_namespace": merged["create_namespace"],
    }


def cluster_warnings(spec: StackSpec, nodes: List[Dict[str, Any]]) -> List[str]:
    """Warnings about the spec that only the cluster's nodes can tell (nodes: Node objects as dicts)."""
    warnings: List[str] = []
    gpu = spec["gpu"]
    if not gpu:
        return warnings
    advertised: Set[str] = set()
    products: Set[str] = set()
    for node in nodes:
        advertised.update(k for k, v in ((node.get("status") or {}).get("allocatable") or {}).items() if str(v) not in ("0", ""))
        product = ((node.get("metadata") or {}).get("labels") or {}).get("nvidia.com/gpu.product")
        if product:
            products.add(product)
    if gpu["resource"] not in advertised:
        what = "MIG profile %s (%s)" % (gpu["mig_profile"], gpu["resource"]) if gpu["mig_profile"] else gpu["resource"]
        warnings.append("gpu: no node advertises the %s, so the pods will stay Pending until one does "
                        "(partition a GPU with mig_config, or configure the device plugin)." % what)
    if gpu["product"] and gpu["product"] not in products:
        warnings.append("gpu.product: no node carries nvidia.com/gpu.product=%s; known products: %s."
                        % (gpu["product"], ", ".join(sorted(products)) or "none"))
    return warnings
