# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""KServe: a serving.kserve.io/v1beta1 InferenceService with a predictor model format and runtime,
and a namespaced ServingRuntime (pinned KServe model server) unless kserve.runtime names an existing one.

The deployment mode is set by the serving.kserve.io/deploymentMode annotation with KServe's current
names (Standard: a Deployment; Knative: a Knative Service). The retired KFServing API
(serving.kubeflow.org) is never written.
"""

from __future__ import annotations

from ansible_collections.inferops.kubernetes.plugins.module_utils.stack import runtimes as rt
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.builders import common
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.builders import warmup as warmup_builder

API_VERSION = "serving.kserve.io/v1beta1"
RUNTIME_API_VERSION = "serving.kserve.io/v1alpha1"
DEPLOYMENT_MODE_ANNOTATION = "serving.kserve.io/deploymentMode"


def runtime_name(spec):
    return spec["kserve"]["runtime"] or "%s-runtime" % spec["name"]


def serving_runtime(spec):
    """The ServingRuntime for the model format, or None when kserve.runtime names an existing one."""
    if spec["kserve"]["runtime"]:
        return None
    model = spec["model"]
    ports = spec["ports"]
    fmt = {"name": model["format"], "autoSelect": False}
    if model["format_version"]:
        fmt["version"] = model["format_version"]
    return {
        "apiVersion": RUNTIME_API_VERSION,
        "kind": "ServingRuntime",
        "metadata": common.metadata(spec, runtime_name(spec)),
        "spec": {
            "supportedModelFormats": [fmt],
            "protocolVersions": list(rt.KSERVE_PROTOCOLS),
            "containers": [{
                "name": "kserve-container",
                "image": spec["image"],
                "args": [
                    "--model_name={{.Name}}",
                    "--model_dir=%s" % rt.MODEL_ROOT["kserve"],
                    "--http_port=%d" % ports["http"],
                    "--grpc_port=%d" % ports["grpc"],
                ],
                "ports": [{"containerPort": ports["http"], "protocol": "TCP"}],
                "securityContext": common.container_security_context(spec),
            }],
        },
    }


def _probes(spec):
    probes = common.probes(spec, spec["kserve"]["protocol"])
    for probe in probes.values():
        # KServe names the container's port itself: probe it by number.
        probe["httpGet"]["port"] = spec["ports"]["http"]
    return probes


def inference_service(spec):
    model = spec["model"]
    kserve = spec["kserve"]
    model_spec = {
        "modelFormat": {"name": model["format"]},
        "runtime": runtime_name(spec),
        "protocolVersion": kserve["protocol"],
        "storageUri": model["storage_uri"] or "pvc://%s/%s" % (model["pvc"], model["path"]),
        "resources": common.resources(spec),
        "securityContext": common.container_security_context(spec),
        "lifecycle": common.lifecycle(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    if model["format_version"]:
        model_spec["modelFormat"]["version"] = model["format_version"]
    model_spec.update(_probes(spec))
    predictor = {
        "minReplicas": spec["replicas"],
        "maxReplicas": max(spec["replicas"], 1),
        "labels": common.labels(spec),
        "automountServiceAccountToken": False,
        "securityContext": common.pod_security_context(),
        "terminationGracePeriodSeconds": spec["termination_grace_period"],
        "model": model_spec,
        # scratch space for the model server, so that its root filesystem can stay read-only
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }
    if kserve["canary_traffic_percent"] is not None:
        predictor["canaryTrafficPercent"] = kserve["canary_traffic_percent"]
    common.place(predictor, spec)
    if warmup_builder.needs_sidecar(spec):
        # A second predictor container runs beside the model server in the same pod.
        predictor["containers"] = [warmup_builder.container(spec, named_port=kserve["deployment_mode"] != "Knative")]
        predictor["volumes"].append(warmup_builder.volume(spec))
    metadata = common.metadata(spec, spec["name"])
    metadata["annotations"] = {DEPLOYMENT_MODE_ANNOTATION: kserve["deployment_mode"]}
    return {"apiVersion": API_VERSION, "kind": "InferenceService", "metadata": metadata, "spec": {"predictor": predictor}}
