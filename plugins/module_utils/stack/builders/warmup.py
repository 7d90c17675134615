# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The warmup sidecar for runtimes without native warmup (TF Serving, TorchServe, KServe predictors).

A regular container named `warmup`, not an initContainer: an init container would warm a process
that exits before the server starts. It runs the stack's stdlib-only warmup agent, shipped in a
ConfigMap together with its warmup.json; the agent answers GET /ready with 200 only after `count`
successful requests to the serving process on localhost, and the sidecar's readinessProbe on it
keeps the pod out of the Service until the server is warm (again after every server restart).
"""

from __future__ import annotations

import inspect
import json
from typing import TYPE_CHECKING, Any, Dict, cast

from ansible_collections.inferops.kubernetes.plugins.module_utils.stack import warmup_agent
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.builders import common

if TYPE_CHECKING:
    from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.shapes import StackSpec, WarmupSpec

# The sidecar runs a stdlib-only script: any small Python image does.
IMAGE = "docker.io/library/python:3.12.12-slim-bookworm"
PORT = 8099
CONTAINER_NAME = "warmup"
MOUNT_PATH = "/opt/inferops/warmup"
AGENT_KEY = "warmup_agent.py"
CONFIG_KEY = "warmup.json"
VOLUME_NAME = "warmup"
PORT_NAME = "warmup"


def agent_source():
    """The agent's source text, read from the collection's own module so that what runs is what is tested."""
    return inspect.getsource(warmup_agent)


def needs_sidecar(spec: StackSpec, runtime):
    return bool(spec["warmup"]) and not runtime.native_warmup


def warmup_config(spec: StackSpec, runtime):
    """warmup.json: where the agent listens, what health URL it waits for, which request it sends."""
    warmup = cast("WarmupSpec", spec["warmup"])  # not None: called only when needs_sidecar
    protocol = spec["kserve"]["protocol"]
    base = "http://127.0.0.1:%d" % spec["ports"]["http"]
    model = spec["model"]["name"]
    return {
        "listen_port": warmup["listen_port"],
        "health_url": base + runtime.health_path(model, protocol),
        "count": warmup["count"],
        "poll_interval_s": warmup["poll_interval_s"],
        "request_timeout_s": warmup["request_timeout_s"],
        "request": {
            "method": "POST",
            "url": base + runtime.predict_path(model, protocol),
            "headers": {"Content-Type": warmup["content_type"]},
            "body": warmup["body"],
        },
    }


def config_map(spec: StackSpec, runtime):
    return common.config_map(spec, "warmup", {
        AGENT_KEY: agent_source(),
        CONFIG_KEY: json.dumps(warmup_config(spec, runtime), indent=2, sort_keys=True) + "\n",
    })


def volume(spec: StackSpec):
    return {"name": VOLUME_NAME, "configMap": {"name": "%s-warmup" % spec["name"]}}


def container(spec: StackSpec, named_port=True):
    """The sidecar. named_port=False probes by number and declares no port: Knative allows one port per pod."""
    warmup = cast("WarmupSpec", spec["warmup"])  # not None: called only when needs_sidecar
    sidecar: Dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": warmup["image"],
        "command": ["python3", "%s/%s" % (MOUNT_PATH, AGENT_KEY), "--config", "%s/%s" % (MOUNT_PATH, CONFIG_KEY)],
        # The root filesystem is read-only: no bytecode cache to write.
        "env": [{"name": "PYTHONDONTWRITEBYTECODE", "value": "1"}, {"name": "PYTHONUNBUFFERED", "value": "1"}],
        "ports": [{"name": PORT_NAME, "containerPort": warmup["listen_port"], "protocol": "TCP"}],
        # No liveness probe: a cold server is not a reason to restart the agent.
        "readinessProbe": {
            "httpGet": {"path": "/ready", "port": PORT_NAME},
            "periodSeconds": 2,
            "timeoutSeconds": 2,
            "failureThreshold": 1,
        },
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}},
        "securityContext": dict(common.container_security_context(spec), readOnlyRootFilesystem=True),
        "volumeMounts": [{"name": VOLUME_NAME, "mountPath": MOUNT_PATH, "readOnly": True}],
    }
    if not named_port:
        del sidecar["ports"]
        sidecar["readinessProbe"]["httpGet"]["port"] = warmup["listen_port"]
    return sidecar
