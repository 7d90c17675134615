# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""TensorFlow Serving: its facts, the model_config_list file (version policy, version labels) and the server container."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ansible_collections.inferops.kubernetes.plugins.module_utils.inference import protocols
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.builders import common
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.runtimes.base import Runtime

if TYPE_CHECKING:
    from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.shapes import StackSpec

CONFIG_DIR = "/etc/tensorflow-serving"
CONFIG_KEY = "models.config"


def _quote(text):
    # protobuf text format takes C-style escaped strings; JSON string escaping is a subset of it
    return json.dumps(text)


def base_path(spec: StackSpec):
    model = spec["model"]
    return model["storage_uri"] or "%s/%s" % (TensorFlowServing.model_root, model["name"])


def model_config_list(spec: StackSpec):
    """The model_config_list in protobuf text format, as --model_config_file reads it."""
    model = spec["model"]
    policy = model["version_policy"]
    if policy == "latest":
        version_policy = "latest { num_versions: %d }" % model["latest_versions"]  # type: ignore[str-format]  # an int: latest
    elif policy == "all":
        version_policy = "all {}"
    else:
        version_policy = "specific { %s }" % " ".join("versions: %d" % v for v in model["versions"])  # type: ignore[union-attr]  # a list: specific
    lines = [
        "model_config_list {",
        "  config {",
        "    name: %s" % _quote(model["name"]),
        "    base_path: %s" % _quote(base_path(spec)),
        "    model_platform: \"tensorflow\"",
        "    model_version_policy { %s }" % version_policy,
    ]
    for label, version in sorted(model["version_labels"].items()):
        lines.append("    version_labels { key: %s value: %d }" % (_quote(label), version))
    lines += ["  }", "}", ""]
    return "\n".join(lines)


def _config_map(spec: StackSpec):
    return common.config_map(spec, "config", {CONFIG_KEY: model_config_list(spec)})


def _container(spec: StackSpec):
    """(container, volumes) of the server."""
    ports = spec["ports"]
    args = [
        "--port=%d" % ports["grpc"],
        "--rest_api_port=%d" % ports["http"],
        "--model_config_file=%s/%s" % (CONFIG_DIR, CONFIG_KEY),
    ]
    tmp_volume, tmp_mount = common.scratch_volume("tmp", "/tmp")
    volumes = [{"name": "config", "configMap": {"name": "%s-config" % spec["name"]}}, tmp_volume]
    mounts = [{"name": "config", "mountPath": CONFIG_DIR, "readOnly": True}, tmp_mount]
    model_volume = common.model_volume(spec)
    if model_volume:
        volumes.append(model_volume)
        mount = {"name": "model", "mountPath": base_path(spec), "readOnly": True}
        if spec["model"]["path"]:
            mount["subPath"] = spec["model"]["path"]
        mounts.append(mount)
    server = {
        "name": "server",
        "image": spec["image"],
        # The image's entrypoint script passes --model_name/--model_base_path, which conflict with a config file.
        "command": ["tensorflow_model_server"],
        "args": args,
        "ports": common.container_ports(spec),
        "volumeMounts": mounts,
    }
    return server, volumes


class TensorFlowServing(Runtime):
    name = "tensorflow_serving"
    images = {"cpu": "docker.io/tensorflow/serving:2.18.0", "gpu": "docker.io/tensorflow/serving:2.18.0-gpu"}
    ports = {"grpc": 8500, "http": 8501}
    route_paths = (protocols.V1_MODELS,)
    grpc_services = ("tensorflow.serving.PredictionService", "tensorflow.serving.ModelService")
    storage_schemes = ("gs",)
    model_root = "/models"
    # /monitoring/prometheus/metrics exists only with --monitoring_config_file, which the module does not set.
    metrics = None
    metrics_fix = (
        "TensorFlow Serving serves Prometheus metrics only when started with --monitoring_config_file naming a "
        "prometheus_config (enable: true, path: /monitoring/prometheus/metrics), which inference_stack does not write yet. "
        "Start it so yourself and give metrics_port: http and metrics_path: /monitoring/prometheus/metrics, or monitor "
        "another runtime."
    )
    model_options = frozenset(("versions", "version_policy", "latest_versions", "version_labels"))
    versions = "policy"

    def health_path(self, model, protocol="v1"):
        # the model status API: 200 once a version is AVAILABLE
        return protocols.v1_model_path(model)

    def predict_path(self, model, protocol="v1"):
        return protocols.v1_predict_path(model)

    config_map = staticmethod(_config_map)
    container = staticmethod(_container)


RUNTIME = TensorFlowServing()
