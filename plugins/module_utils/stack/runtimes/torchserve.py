# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""TorchServe: its facts, config.properties (addresses, Prometheus metrics, `load_models` and `models=`) and the server container."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from ansible_collections.inferops.kubernetes.plugins.module_utils.inference import protocols
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.builders import common
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.runtimes.base import Runtime

if TYPE_CHECKING:
    from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.shapes import StackSpec

HOME = "/home/model-server"
CONFIG_DIR = HOME + "/config"
CONFIG_KEY = "config.properties"
MODEL_STORE = HOME + "/model-store"


def config_properties(spec: StackSpec):
    model = spec["model"]
    ports = spec["ports"]
    models = {
        model["name"]: {
            model["version"]: {
                "defaultVersion": True,
                "marName": model["mar_file"],
                "minWorkers": 1,
                "maxWorkers": 1,
                "responseTimeout": 120,
            }
        }
    }
    lines = [
        "inference_address=http://0.0.0.0:%d" % ports["http"],
        "management_address=http://0.0.0.0:%d" % ports["management"],
        "metrics_address=http://0.0.0.0:%d" % ports["metrics"],
        "grpc_inference_port=%d" % ports["grpc"],
        "metrics_mode=prometheus",
        "model_store=%s" % MODEL_STORE,
        "load_models=%s=%s" % (model["name"], model["mar_file"]),
        "models=%s" % json.dumps(models, sort_keys=True, separators=(",", ":")),
        # Only the URLs of model.storage_uri may be fetched.
        "allowed_urls=%s" % (re.escape(model["storage_uri"]) if model["storage_uri"] else "file://.*"),
        "install_py_dep_per_model=false",
        "",
    ]
    return "\n".join(lines)


def _config_map(spec: StackSpec):
    return common.config_map(spec, "config", {CONFIG_KEY: config_properties(spec)})


def _container(spec: StackSpec):
    volumes = [{"name": "config", "configMap": {"name": "%s-config" % spec["name"]}}]
    mounts = [{"name": "config", "mountPath": CONFIG_DIR, "readOnly": True}]
    # TorchServe unpacks archives and writes logs: scratch space, so that the root filesystem stays read-only.
    for name, path in (("tmp", "/tmp"), ("ts-tmp", HOME + "/tmp"), ("logs", HOME + "/logs")):
        volume, mount = common.scratch_volume(name, path)
        volumes.append(volume)
        mounts.append(mount)
    model_volume = common.model_volume(spec)
    if model_volume:
        volumes.append(model_volume)
        mount = {"name": "model", "mountPath": MODEL_STORE, "readOnly": True}
        if spec["model"]["path"]:
            mount["subPath"] = spec["model"]["path"]
        mounts.append(mount)
    else:
        volume, mount = common.scratch_volume("model-store", MODEL_STORE)
        volumes.append(volume)
        mounts.append(mount)
    server = {
        "name": "server",
        "image": spec["image"],
        # Token authorization (on by default since 0.11) would need the generated key file in every client,
        # the warmup sidecar and the probes included; the Service is cluster-internal.
        "command": ["torchserve", "--start", "--foreground", "--ncs", "--disable-token-auth",
                    "--ts-config", "%s/%s" % (CONFIG_DIR, CONFIG_KEY)],
        "env": [
            {"name": "TEMP", "value": HOME + "/tmp"},
            {"name": "LOG_LOCATION", "value": HOME + "/logs"},
            {"name": "METRICS_LOCATION", "value": HOME + "/logs"},
        ],
        "ports": common.container_ports(spec),
        "volumeMounts": mounts,
    }
    return server, volumes


class TorchServe(Runtime):
    name = "torchserve"
    images = {"cpu": "docker.io/pytorch/torchserve:0.12.0-cpu", "gpu": "docker.io/pytorch/torchserve:0.12.0-gpu"}
    ports = {"http": 8080, "management": 8081, "metrics": 8082, "grpc": 7070}
    route_paths = (protocols.TORCHSERVE_PREDICTIONS,)
    grpc_services = ("org.pytorch.serve.grpc.inference.InferenceAPIsService",)
    storage_schemes = ("https",)
    model_root = MODEL_STORE
    # metrics_mode=prometheus in config.properties
    metrics = ("metrics", "/metrics")
    # TorchServe's default frontend metrics (ts/configs/metrics.yaml): counters labelled model_name,
    # model_version and hostname. (QueueTime, its gauge in ms, carries no model label.)
    request_counter = "ts_inference_requests_total"
    queue_time_counter_us = "ts_queue_latency_microseconds"
    model_label = "model_name"
    latency_counter_us = "ts_inference_latency_microseconds"
    # The frontend's API status counters carry Level and Hostname only (no model): the pod's 5XX answers
    # over the inference requests it received.
    failure_counter = "Requests5XX"
    attempt_counters = ("ts_inference_requests_total",)
    failure_per_model = False
    model_options = frozenset(("mar_file", "version"))
    versions_fix = "TorchServe takes the version from the model archive: set model.version (and model.mar_file)."

    def health_path(self, model, protocol="v1"):
        return protocols.TORCHSERVE_PING

    def predict_path(self, model, protocol="v1"):
        return protocols.torchserve_predict_path(model)

    config_map = staticmethod(_config_map)
    container = staticmethod(_container)


RUNTIME = TorchServe()
