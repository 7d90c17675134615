# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Triton: its facts, the model configuration with native model_warmup, the model repository and
the server container. ONNX Runtime (onnxruntime.py) is this runtime with the onnxruntime backend.

The repository is an emptyDir: config.pbtxt comes from a ConfigMap, each version directory from
the PVC (read-only), so the module owns the configuration without writing into the model volume.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Literal

from ansible_collections.inferops.kubernetes.plugins.module_utils.inference import protocols
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.builders import common
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.runtimes.base import Runtime

if TYPE_CHECKING:
    from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.shapes import StackSpec

REPOSITORY = "/models"
CONFIG_KEY = "config.pbtxt"

# Triton backends (platform names where Triton wants a platform instead).
BACKENDS = ("onnxruntime", "tensorrt", "pytorch", "tensorflow", "python", "openvino")
# model.instance_kind: where Triton runs the model's instances (instance_group kind).
INSTANCE_KINDS = ("gpu", "cpu", "auto")
# Backends Triton selects by `platform` rather than `backend`.
PLATFORMS = {"tensorrt": "tensorrt_plan", "tensorflow": "tensorflow_savedmodel"}
DATA_TYPES = (
    "TYPE_BOOL", "TYPE_UINT8", "TYPE_UINT16", "TYPE_UINT32", "TYPE_UINT64", "TYPE_INT8", "TYPE_INT16", "TYPE_INT32",
    "TYPE_INT64", "TYPE_FP16", "TYPE_FP32", "TYPE_FP64", "TYPE_STRING", "TYPE_BF16",
)


def model_config(spec: StackSpec):
    """config.pbtxt in protobuf text format."""
    model = spec["model"]
    backend = model["backend"]
    lines = ["name: %s" % json.dumps(model["name"])]
    if backend in PLATFORMS:
        lines.append("platform: %s" % json.dumps(PLATFORMS[backend]))
    else:
        lines.append("backend: %s" % json.dumps(backend))
    lines.append("max_batch_size: %d" % model["max_batch_size"])  # type: ignore[str-format]  # an int for Triton
    option: Literal["inputs", "outputs"]
    for option, block in (("inputs", "input"), ("outputs", "output")):
        if model[option]:
            lines.append("%s [" % block)
            lines.append(",\n".join("  { name: %s, data_type: %s, dims: [ %s ] }" % (
                json.dumps(t["name"]), t["data_type"], ", ".join(str(d) for d in t["dims"])) for t in model[option]))
            lines.append("]")
    # model["versions"] is a list for Triton (versions "mounted"), never None
    lines.append("version_policy: { specific: { versions: [ %s ] } }" % ", ".join(str(v) for v in model["versions"]))  # type: ignore[union-attr]
    kind = model["instance_kind"] or ("gpu" if spec["gpu"] else "cpu")
    lines.append("instance_group [ { kind: KIND_%s, count: 1 } ]" % kind.upper())
    warmup = spec["warmup"]
    if warmup:
        lines.append("model_warmup [")
        lines.append("  {")
        lines.append("    name: \"inferops_warmup\"")
        lines.append("    batch_size: 1")
        lines.append("    count: %d" % warmup["count"])
        for entry in warmup["inputs"]:
            lines.append("    inputs { key: %s, value: { data_type: %s, dims: [ %s ], zero_data: true } }" % (
                json.dumps(entry["name"]), entry["data_type"], ", ".join(str(d) for d in entry["dims"])))
        lines.append("  }")
        lines.append("]")
    lines.append("")
    return "\n".join(lines)


def _config_map(spec: StackSpec):
    return common.config_map(spec, "config", {CONFIG_KEY: model_config(spec)})


def _container(spec: StackSpec):
    model = spec["model"]
    ports = spec["ports"]
    model_dir = "%s/%s" % (REPOSITORY, model["name"])
    repo_volume, repo_mount = common.scratch_volume("model-repository", REPOSITORY)
    tmp_volume, tmp_mount = common.scratch_volume("tmp", "/tmp")
    # Python-backend and shared-memory clients need more /dev/shm than the runtime's 64 MiB default.
    shm_volume, shm_mount = common.scratch_volume("dshm", "/dev/shm", memory=True)
    volumes = [repo_volume, {"name": "config", "configMap": {"name": "%s-config" % spec["name"]}},
               common.model_volume(spec), tmp_volume, shm_volume]
    mounts = [repo_mount, {"name": "config", "mountPath": "%s/%s" % (model_dir, CONFIG_KEY), "subPath": CONFIG_KEY, "readOnly": True}]
    for version in model["versions"]:  # type: ignore[union-attr]  # a list for Triton
        sub_path = "/".join(p for p in (model["path"], str(version)) if p)
        mounts.append({"name": "model", "mountPath": "%s/%d" % (model_dir, version), "subPath": sub_path, "readOnly": True})
    mounts += [tmp_mount, shm_mount]
    server = {
        "name": "server",
        "image": spec["image"],
        "command": ["tritonserver"],
        "args": [
            "--model-repository=%s" % REPOSITORY,
            "--http-port=%d" % ports["http"],
            "--grpc-port=%d" % ports["grpc"],
            "--metrics-port=%d" % ports["metrics"],
            # Ready only when every model is loaded (and warmed): the readiness probe relies on it.
            "--strict-readiness=true",
            "--exit-on-error=true",
        ],
        "ports": common.container_ports(spec),
        "volumeMounts": mounts,
    }
    return server, volumes


class Triton(Runtime):
    name = "triton"
    images = {"cpu": "nvcr.io/nvidia/tritonserver:25.10-py3", "gpu": "nvcr.io/nvidia/tritonserver:25.10-py3"}
    ports = {"http": 8000, "grpc": 8001, "metrics": 8002}
    route_paths = (protocols.V2_MODELS,)
    grpc_services = ("inference.GRPCInferenceService",)
    # Triton reads its repository from a PVC here, so that the module can place the model
    # configuration (with model_warmup) next to the versions.
    storage_schemes = ()
    model_root = REPOSITORY
    metrics = ("metrics", "/metrics")
    # Triton's metrics guide: per model (labels model and version), cumulative counters.
    request_counter = "nv_inference_request_success"
    queue_time_counter_us = "nv_inference_queue_duration_us"
    model_label = "model"
    # Cumulative duration of every request (Triton's latency histograms are off by default, and per-request
    # summaries need --metrics-config); failures are counted per model with a reason label.
    latency_counter_us = "nv_inference_request_duration_us"
    failure_counter = "nv_inference_request_failure"
    attempt_counters = ("nv_inference_request_success", "nv_inference_request_failure")
    warmup = "native"
    model_options = frozenset(("versions", "version_policy", "backend", "max_batch_size", "instance_kind", "inputs", "outputs"))
    versions = "mounted"
    backends = BACKENDS
    instance_kinds = INSTANCE_KINDS
    data_types = DATA_TYPES

    def health_path(self, model, protocol="v1"):
        # with --strict-readiness, ready only when every model is loaded and warm
        return protocols.V2_HEALTH_READY

    def liveness_path(self, model, protocol="v1"):
        return protocols.V2_HEALTH_LIVE

    def predict_path(self, model, protocol="v1"):
        return protocols.v2_infer_path(model)

    config_map = staticmethod(_config_map)
    container = staticmethod(_container)


RUNTIME = Triton()
