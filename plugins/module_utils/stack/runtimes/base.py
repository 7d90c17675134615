# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a serving runtime is to the stack: its facts, and how its objects are built.

A runtime is one instance of a Runtime subclass, in one file of this package, registered in
`runtimes.RUNTIMES`. Validation (spec.py) reads its facts; the builders of stack/builders/ take it
as an argument and ask it for paths and containers. Nothing else in the stack names a runtime.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, FrozenSet, Optional, Tuple

from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.builders import service, warmup, workload
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.builders.common import instance_labels

if TYPE_CHECKING:
    from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.shapes import StackSpec

# Model options every runtime reads; the others are listed per runtime in `model_options`.
COMMON_MODEL_OPTIONS = frozenset(("name", "pvc", "path", "storage_uri"))


class Runtime:
    """A serving runtime whose pods the module runs itself: ConfigMap(s), a Deployment and a Service.

    Subclasses set the facts and implement `config_map` and `container`; a runtime whose pods
    something else runs (KServe) overrides `objects`.
    """

    #: the runtime option's value
    name: Optional[str] = None
    #: pinned images: {"cpu": ..., "gpu": ...}; the gpu one is used when the pod requests GPUs
    images: Dict[str, str] = {}
    #: named container ports and their default numbers (the ports option may renumber them)
    ports: Dict[str, int] = {}
    #: the named ports the Service exposes, where the runtime has them
    service_ports: Tuple[str, ...] = ("http", "grpc", "metrics")
    #: storage URI schemes the runtime reads by itself (model.pvc is always possible)
    storage_schemes: Tuple[str, ...] = ()
    #: where the model lands inside the serving container
    model_root: Optional[str] = None
    #: (port name, path) of the runtime's Prometheus metrics, or None where it serves none by default
    metrics: Optional[Tuple[str, str]] = None
    #: where metrics is None: why, and what it would take (the monitoring module's refusal)
    metrics_fix: Optional[str] = None
    #: Prometheus series of the serving process, as its metrics endpoint names them (None where it serves
    #: none): a counter of inference requests, a counter of the microseconds requests waited in the
    #: server's queue, and the label that names the model on both. The autoscaling signals and the
    #: monitoring objects build their PromQL from these.
    request_counter: Optional[str] = None
    queue_time_counter_us: Optional[str] = None
    model_label: Optional[str] = None
    #: what the monitoring rules read beyond those: a histogram of request latency in seconds (its base
    #: name, without _bucket), else a counter of the microseconds spent serving requests (a mean per
    #: request, not a percentile); a counter of failed requests, the counters whose sum is every request
    #: it is a share of, and whether the failure counter carries model_label (else it counts the pod's)
    latency_histogram_s: Optional[str] = None
    latency_counter_us: Optional[str] = None
    failure_counter: Optional[str] = None
    attempt_counters: Tuple[str, ...] = ()
    failure_per_model = True
    #: dcgm-exporter's series (etc/default-counters.csv) for the GPUs of a pod of any runtime: utilisation
    #: in percent and framebuffer memory used in MiB; with its Kubernetes mapping the exporter labels
    #: each with the pod and namespace that holds the GPU.
    gpu_utilization_series = "DCGM_FI_DEV_GPU_UTIL"
    gpu_memory_used_series = "DCGM_FI_DEV_FB_USED"
    gpu_memory_free_series = "DCGM_FI_DEV_FB_FREE"
    #: the last XID error a GPU reported (0: none since the exporter started)
    gpu_xid_series = "DCGM_FI_DEV_XID_ERRORS"
    #: "native" where the runtime warms the model before it reports ready; "sidecar" where the module's
    #: warmup sidecar gates readiness
    warmup = "sidecar"
    #: the model options the runtime reads beyond COMMON_MODEL_OPTIONS
    model_options: FrozenSet[str] = frozenset()
    #: how model versions are chosen: None (model.versions does not apply), "policy" (a version policy
    #: in the server's configuration), "mounted" (the version directories the module mounts)
    versions: Optional[str] = None
    #: the fix a refusal of model.versions gives, where versions do not apply (None: leave it out)
    versions_fix: Optional[str] = None
    #: Triton-style backends and tensor data types (empty where model.backend does not apply)
    backends: Tuple[str, ...] = ()
    data_types: Tuple[str, ...] = ()
    #: Triton-style instance group kinds (empty where model.instance_kind does not apply)
    instance_kinds: Tuple[str, ...] = ()
    #: the backend this runtime always uses (ONNX Runtime is Triton's onnxruntime backend)
    fixed_backend: Optional[str] = None
    #: whether the kserve options apply
    kserve_options = False
    #: the longest name: a runtime whose controller derives longer names from it needs a shorter one
    max_name_length = 63
    #: what the pods run in, after the service's name: an autoscaler scales the Deployment <name><suffix>
    workload_suffix = ""
    #: whether the runtime's controller makes an autoscaler of its own, to be turned off for another one
    own_autoscaler = False
    #: why rollback_on_failure does not apply, or None where the module rolls the Deployment back
    rollback_note: Optional[str] = None
    #: the ports clients call, which a NetworkPolicy opens to the ingress or gateway namespaces
    client_ports: Tuple[str, ...] = ("http", "grpc")
    #: whether the serving container's ports carry the names of `ports` (a NetworkPolicy can then name them,
    #: and follows a renumbering by itself)
    named_container_ports = True
    #: HTTP path prefixes of the runtime's inference API (spelt by inference/protocols.py): what an Ingress
    #: or HTTPRoute sends to the model server
    route_paths: Tuple[str, ...] = ()
    #: fully qualified gRPC services of the runtime's gRPC API: what a GRPCRoute matches (empty: no gRPC route)
    grpc_services: Tuple[str, ...] = ()
    #: the port numbers of the Service traffic goes to, where they are not the runtime's own `ports`
    #: (KServe's controller writes the predictor Service with ports of its own)
    backend_ports: Optional[Dict[str, int]] = None

    def backend_service(self, name):
        """The Service in front of the model service called name: the stack's own, named like it."""
        return name

    @property
    def native_warmup(self):
        return self.warmup == "native"

    def pod_labels(self, name):
        """Labels that select the serving pods of the service called name (a NetworkPolicy's podSelector)."""
        return instance_labels(name)

    def all_model_options(self):
        return COMMON_MODEL_OPTIONS | self.model_options

    # --- paths (spelt by inference/protocols.py; protocol is the kserve.protocol option)

    def health_path(self, model, protocol="v1"):
        """The HTTP path that answers 200 once the model can serve."""
        raise NotImplementedError

    def liveness_path(self, model, protocol="v1"):
        """A path that answers while the process is alive, whether or not the model is loaded."""
        return self.health_path(model, protocol)

    def predict_path(self, model, protocol="v1"):
        """Where an inference request for the model goes (the warmup sidecar's target)."""
        raise NotImplementedError

    # --- images

    def default_image(self, gpu, model, kserve):
        """The image when the image option is not set (None: the runtime brings none itself)."""
        return self.images["gpu" if gpu else "cpu"]

    def image_example(self, model):
        """A pinned image to show in a message about the image option."""
        return self.images["cpu"]

    # --- objects

    def config_map(self, spec: StackSpec):
        """The ConfigMap with the server's configuration."""
        raise NotImplementedError

    def container(self, spec: StackSpec):
        """(server container without probes, resources and security context, the pod's volumes)."""
        raise NotImplementedError

    def objects(self, spec: StackSpec):
        """The runtime's objects in apply order: ConfigMaps first (the pods read them), the Deployment, the Service."""
        config_maps = [self.config_map(spec)]
        if warmup.needs_sidecar(spec, self):
            config_maps.append(warmup.config_map(spec, self))
        return config_maps + [workload.deployment(spec, self, config_maps), service.service(spec, self)]
