# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shape of the inference stack's validated spec, as stack/spec.py `validate` returns it.

These are plain dicts at run time; the TypedDicts only tell a reader (and mypy) which keys each
part has and what they hold. Keys that only some runtimes have are in a `total=False` class.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, TypedDict, Union


class TensorSpec(TypedDict):
    """One input or output tensor of a Triton model (model.inputs, model.outputs, warmup.inputs)."""

    name: str
    data_type: str
    #: without the batch dimension; -1 marks a variable one (model tensors only)
    dims: List[int]


class _ModelSpecBase(TypedDict):
    name: str
    #: the model's source: a PVC and a path in it, or a storage URI (scheme "pvc" for the former)
    pvc: Optional[str]
    path: str
    storage_uri: Optional[str]
    scheme: str
    #: versions and how the server picks them; None where the runtime has no versions
    versions: Optional[List[int]]
    version_policy: Optional[str]
    latest_versions: Optional[int]
    version_labels: Dict[str, int]
    #: Triton's model configuration (None and [] for the other runtimes)
    backend: Optional[str]
    max_batch_size: Optional[int]
    instance_kind: Optional[str]
    inputs: List[TensorSpec]
    outputs: List[TensorSpec]


class ModelSpec(_ModelSpecBase, total=False):
    """The model to serve. The keys below are there only for the runtime that reads them."""

    #: TorchServe: the model archive and its version
    mar_file: str
    version: str
    #: KServe: the model format a ServingRuntime serves
    format: str
    format_version: Optional[str]


class GpuSpec(TypedDict):
    """The GPUs each pod requests: resource is nvidia.com/gpu, a shared or a MIG resource."""

    resource: str
    count: int
    #: the nvidia.com/gpu.product label the pods select, or None for any GPU
    product: Optional[str]
    mig_profile: Optional[str]


class _WarmupSpecBase(TypedDict):
    count: int
    listen_port: int
    image: str
    poll_interval_s: float
    request_timeout_s: float


class WarmupSpec(_WarmupSpecBase, total=False):
    """The warmup before a pod reports ready: inputs where the runtime warms itself (Triton), otherwise
    the sample request the warmup sidecar sends (body and content_type)."""

    inputs: List[TensorSpec]
    body: str
    content_type: str


class KserveSpec(TypedDict):
    """KServe's options; their defaults are filled in for every runtime."""

    deployment_mode: str
    protocol: str
    #: a (Cluster)ServingRuntime to use instead of the one the module renders
    runtime: Optional[str]
    canary_traffic_percent: Optional[int]
    #: KServe's own autoscaler: the most replicas (the least is StackSpec.replicas), its metric and target
    max_replicas: int
    scale_metric: Optional[str]
    scale_target: Optional[int]


class StackSpec(TypedDict):
    """The whole validated spec of one inference stack: every option checked, defaults filled in."""

    name: str
    namespace: str
    runtime: str
    #: None where a KServe ServingRuntime named by kserve.runtime brings its own
    image: Optional[str]
    model: ModelSpec
    replicas: int
    #: {"requests": {...}, "limits": {...}}: quantities as strings, extended resources as whole numbers
    resources: Dict[str, Dict[str, Any]]
    gpu: Optional[GpuSpec]
    node_selector: Dict[str, str]
    tolerations: List[Dict[str, Any]]
    spread: str
    labels: Dict[str, str]
    ports: Dict[str, int]
    startup_timeout: int
    termination_grace_period: int
    #: a number of pods or a percentage such as "25%"
    max_unavailable: Union[int, str]
    read_only_root_filesystem: bool
    #: the ServiceAccount the pods run as (None: the namespace's default) and whether they get its API token
    service_account: Optional[str]
    service_account_token: bool
    warmup: Optional[WarmupSpec]
    kserve: KserveSpec
    #: partial objects merged into the built ones
    overrides: List[Dict[str, Any]]
    create_namespace: bool
