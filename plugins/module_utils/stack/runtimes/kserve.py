# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""KServe: its facts, a serving.kserve.io/v1beta1 InferenceService with a predictor model format and runtime,
and a namespaced ServingRuntime (pinned KServe model server) unless kserve.runtime names an existing one.

The deployment mode is set by the serving.kserve.io/deploymentMode annotation with KServe's current
names (Standard: a Deployment; Knative: a Knative Service). The retired KFServing API
(serving.kubeflow.org) is never written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ansible_collections.inferops.kubernetes.plugins.module_utils.inference import protocols
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.builders import common
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.builders import warmup as warmup_builder
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.runtimes.base import Runtime

if TYPE_CHECKING:
    from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.shapes import StackSpec

# KServe model servers of the release whose CRDs the collection is tested against (v0.17.0),
# by model format; a ServingRuntime with this image is rendered unless kserve.runtime names one.
VERSION = "v0.17.0"
IMAGES = {
    "sklearn": "docker.io/kserve/sklearnserver:%s" % VERSION,
    "xgboost": "docker.io/kserve/xgbserver:%s" % VERSION,
    "lightgbm": "docker.io/kserve/lgbserver:%s" % VERSION,
}
DEPLOYMENT_MODES = ("Standard", "Knative")
# Names KServe still reads but has renamed; the module asks for the current ones.
LEGACY_MODES = {"RawDeployment": "Standard", "Serverless": "Knative"}
PROTOCOLS = ("v1", "v2")
# The predictor's scaleMetric: KServe's own HPA (Standard mode) scales on cpu or memory; concurrency and rps are
# Knative's autoscaler metrics.
SCALE_METRICS = {"Standard": ("cpu", "memory"), "Knative": ("concurrency", "rps", "cpu", "memory")}
MODEL_ROOT = "/mnt/models"

API_VERSION = "serving.kserve.io/v1beta1"
RUNTIME_API_VERSION = "serving.kserve.io/v1alpha1"
DEPLOYMENT_MODE_ANNOTATION = "serving.kserve.io/deploymentMode"
POD_LABEL = "serving.kserve.io/inferenceservice"
# The port of the predictor Service KServe writes in Standard mode (its constants.CommonDefaultHttpPort).
PREDICTOR_SERVICE_PORT = 80


def runtime_name(spec: StackSpec):
    return spec["kserve"]["runtime"] or "%s-runtime" % spec["name"]


def serving_runtime(spec: StackSpec):
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
            "protocolVersions": list(PROTOCOLS),
            "containers": [{
                "name": "kserve-container",
                "image": spec["image"],
                "args": [
                    "--model_name={{.Name}}",
                    "--model_dir=%s" % MODEL_ROOT,
                    "--http_port=%d" % ports["http"],
                    "--grpc_port=%d" % ports["grpc"],
                ],
                "ports": [{"containerPort": ports["http"], "protocol": "TCP"}],
                "securityContext": common.container_security_context(spec),
            }],
        },
    }


def _probes(spec: StackSpec, runtime):
    probes = common.probes(spec, runtime)
    for probe in probes.values():
        # KServe names the container's port itself: probe it by number.
        probe["httpGet"]["port"] = spec["ports"]["http"]
    return probes


def inference_service(spec: StackSpec, runtime):
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
    model_spec.update(_probes(spec, runtime))
    predictor = {
        "minReplicas": spec["replicas"],
        "maxReplicas": kserve["max_replicas"],
        "labels": common.labels(spec),
        "automountServiceAccountToken": spec["service_account_token"],
        "securityContext": common.pod_security_context(),
        "terminationGracePeriodSeconds": spec["termination_grace_period"],
        "model": model_spec,
        # scratch space for the model server, so that its root filesystem can stay read-only
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }
    if spec["service_account"]:
        predictor["serviceAccountName"] = spec["service_account"]
    if kserve["scale_metric"]:
        predictor["scaleMetric"] = kserve["scale_metric"]
    if kserve["scale_target"] is not None:
        predictor["scaleTarget"] = kserve["scale_target"]
    if kserve["canary_traffic_percent"] is not None:
        predictor["canaryTrafficPercent"] = kserve["canary_traffic_percent"]
    common.place(predictor, spec)
    if warmup_builder.needs_sidecar(spec, runtime):
        # A second predictor container runs beside the model server in the same pod.
        predictor["containers"] = [warmup_builder.container(spec, named_port=kserve["deployment_mode"] != "Knative")]
        predictor["volumes"].append(warmup_builder.volume(spec))
    metadata = common.metadata(spec, spec["name"])
    metadata["annotations"] = {DEPLOYMENT_MODE_ANNOTATION: kserve["deployment_mode"]}
    return {"apiVersion": API_VERSION, "kind": "InferenceService", "metadata": metadata, "spec": {"predictor": predictor}}


class KServe(Runtime):
    """The pods are KServe's: the module writes the InferenceService (and ServingRuntime), no Deployment."""

    name = "kserve"
    # The KServe Python model server: REST on 8080, gRPC (v2) on 8081.
    ports = {"http": 8080, "grpc": 8081}
    # KServe's model servers speak both V1 and V2 on the REST port (the ServingRuntime declares both).
    route_paths = (protocols.V1_MODELS, protocols.V2_MODELS)
    # KServe's controller (v0.17.0, Standard mode) writes the predictor Service <name>-predictor with the
    # container's first port as port 80; the ServingRuntime exposes only the REST port, so no gRPC route.
    backend_ports = {"http": PREDICTOR_SERVICE_PORT}
    storage_schemes = ("gs", "s3", "https", "http", "pvc", "hf", "oci", "hdfs", "webhdfs")
    model_root = MODEL_ROOT
    # The Python model server serves Prometheus metrics on its REST port (KServe's own ServingRuntimes
    # annotate prometheus.io/port 8080, path /metrics).
    metrics = ("http", "/metrics")
    # The Python model server's prometheus_client histogram of predict latency, labelled model_name: its
    # _count series counts requests. It has no queue.
    request_counter = "request_predict_seconds_count"
    latency_histogram_s = "request_predict_seconds"
    model_label = "model_name"
    model_options = frozenset(("format", "format_version"))
    versions_fix = "Roll a new version out with kserve.canary_traffic_percent."
    kserve_options = True
    # KServe derives longer names (<name>-predictor-...) from the InferenceService's.
    max_name_length = 53
    # KServe's Standard mode runs the predictor as the Deployment <name>-predictor, with an HPA of its own
    # unless the InferenceService's autoscalerClass says otherwise.
    workload_suffix = "-predictor"
    own_autoscaler = True
    rollback_note = "rollback_on_failure applies to Deployments; KServe keeps the previous revision serving by itself."
    # KServe names the container's ports itself (the ServingRuntime gives numbers): a NetworkPolicy gives numbers.
    named_container_ports = False

    def pod_labels(self, name):
        # What KServe v0.17.0's controller puts on every predictor pod (pkg/constants: InferenceServicePodLabelKey,
        # KServiceComponentLabel), so an InferenceService written by anyone is selected.
        return {POD_LABEL: name, "component": "predictor"}

    def backend_service(self, name):
        """The predictor Service KServe's controller writes for the InferenceService."""
        return "%s-predictor" % name

    def health_path(self, model, protocol="v1"):
        return protocols.v2_model_ready_path(model) if protocol == "v2" else protocols.v1_model_path(model)

    def liveness_path(self, model, protocol="v1"):
        return protocols.V2_HEALTH_LIVE if protocol == "v2" else protocols.KSERVE_V1_LIVE

    def predict_path(self, model, protocol="v1"):
        return protocols.v2_infer_path(model) if protocol == "v2" else protocols.v1_predict_path(model)

    def default_image(self, gpu, model, kserve):
        # an existing (Cluster)ServingRuntime named in kserve.runtime brings its own image
        return None if kserve["runtime"] else IMAGES[model["format"]]

    def image_example(self, model):
        return IMAGES.get(model.get("format")) or "docker.io/kserve/sklearnserver:%s" % VERSION

    def objects(self, spec: StackSpec):
        """The ServingRuntime (unless kserve.runtime names one), the warmup ConfigMap, the InferenceService."""
        objects = []
        own_runtime = serving_runtime(spec)
        if own_runtime:
            objects.append(own_runtime)
        if warmup_builder.needs_sidecar(spec, self):
            objects.append(warmup_builder.config_map(spec, self))
        objects.append(inference_service(spec, self))
        return objects


RUNTIME = KServe()
