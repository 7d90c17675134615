#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: inference_stack
short_description: Deploy one model service on TF Serving, TorchServe, Triton, ONNX Runtime (Triton) or KServe
version_added: 0.1.0
description:
  - Takes a high-level spec for one model service and builds every object it needs, then applies them with
    server-side apply (check mode is a server-side dry run) or, with O(mode=render), writes them as YAML files.
  - "O(runtime=tensorflow_serving), V(torchserve), V(triton), V(onnxruntime) (Triton's onnxruntime backend; the
    standalone ONNX Runtime server is deprecated): ConfigMap with the runtime's model configuration, a Deployment,
    a Service with named ports and a PodDisruptionBudget."
  - O(runtime=kserve) writes a C(serving.kserve.io/v1beta1) InferenceService with a predictor model format and
    runtime, a ServingRuntime with a pinned KServe model server unless O(kserve.runtime) names one, and a
    PodDisruptionBudget.
  - Pods run as non-root with no privilege escalation, all capabilities dropped, seccomp V(RuntimeDefault), a
    read-only root filesystem (emptyDir for scratch directories) and no service account token; probes use each
    runtime's real health endpoint; a startup probe allows O(startup_timeout) seconds for the model to load.
  - With O(warmup), a pod takes no traffic before its serving process is warm. Triton warms itself with
    C(model_warmup) in the rendered model configuration; the other runtimes get a C(warmup) sidecar whose
    readiness gates the pod (not an initContainer, which would warm a process that exits).
  - Every option is checked before anything is written; a wrong one fails with a message naming it and the fix.
    Refused, among others, fractional GPUs, V(nvidia.com/gpu) together with V(nvidia.com/mig-*), a MIG profile the
    strategy or GPU cannot produce, V(latest) or missing image tags, the retired V(serving.kubeflow.org) API in
    O(overrides), names that are not DNS-1123 labels, negative replicas, requests above limits, colliding ports,
    boolean label or selector values and storage URI schemes the runtime cannot read.
author:
  - inferops.kubernetes maintainers (@inferops)
options:
  name:
    description:
      - Name of the service and of its objects. A DNS-1123 label starting with a letter, at most 63 characters
        (53 for V(kserve), which appends V(-predictor)).
    type: str
    required: true
  namespace:
    description:
      - Namespace of every object. It must exist.
    type: str
    default: default
  runtime:
    description:
      - The serving runtime.
    type: str
    required: true
    choices: [tensorflow_serving, torchserve, triton, onnxruntime, kserve]
  image:
    description:
      - The server image, with a pinned tag or digest; V(latest) and an image without a tag are refused.
      - Defaults to a pinned release per runtime (the GPU variant when GPUs are requested), for V(kserve) to the
        KServe model server of O(model.format).
    type: str
  model:
    description:
      - The model and where it is read from.
    type: dict
    required: true
    suboptions:
      name:
        description:
          - The model's name as clients call it (in URLs such as V(/v1/models/<name>)).
        type: str
        required: true
      pvc:
        description:
          - A PersistentVolumeClaim holding the model, mounted read-only. Give this or O(model.storage_uri).
        type: str
      path:
        description:
          - Directory of the model inside O(model.pvc). TF Serving and Triton expect version directories under it,
            TorchServe the C(.mar) archive.
        type: str
      storage_uri:
        description:
          - A URI the runtime reads itself. V(tensorflow_serving) reads V(gs://); V(torchserve) an V(https://) URL of
            a C(.mar) archive; V(kserve) V(gs://), V(s3://), V(https://), V(http://), V(pvc://), V(hf://), V(oci://),
            V(hdfs://), V(webhdfs://). V(triton) and V(onnxruntime) read a PVC only.
        type: str
      versions:
        description:
          - Versions to serve (TF Serving policy V(specific); Triton mounts these version directories, default V([1])).
        type: list
        elements: int
      version_policy:
        description:
          - TF Serving's model version policy. Defaults to V(specific) when O(model.versions) is set, else V(latest).
        type: str
        choices: [latest, all, specific]
      latest_versions:
        description:
          - With policy V(latest), how many of the newest versions TF Serving serves. Default 1.
        type: int
      version_labels:
        description:
          - "TF Serving version labels, label to version number, for example V({stable: 1, canary: 2})."
        type: dict
      backend:
        description:
          - The Triton backend. Required for V(triton); V(onnxruntime) for O(runtime=onnxruntime).
        type: str
        choices: [onnxruntime, tensorrt, pytorch, tensorflow, python, openvino]
      max_batch_size:
        description:
          - Triton's C(max_batch_size); 0 (the default) for a model without a batch dimension.
        type: int
      instance_kind:
        description:
          - Triton only. Where Triton runs the model's instances (its C(instance_group) kind). Default V(gpu) when
            the pod asks for GPUs, else V(cpu). V(auto) lets Triton choose (GPU when it sees one). V(cpu) with GPUs
            requested keeps the model on CPU, for example on a node whose GPUs a stand-in device plugin advertises.
        type: str
        choices: [gpu, cpu, auto]
      inputs:
        description:
          - Triton only. The model's inputs, each with C(name), C(data_type) (for example V(TYPE_FP32)) and C(dims)
            (without the batch dimension; -1 for a variable one). Required for the V(pytorch) and V(python) backends,
            which cannot read them from the model file. Also the default sample of O(warmup) for Triton.
        type: list
        elements: dict
      outputs:
        description:
          - Triton only. The model's outputs, like O(model.inputs). Required for the V(pytorch) and V(python) backends.
        type: list
        elements: dict
      mar_file:
        description:
          - TorchServe model archive in O(model.path). Default V(<name>.mar).
        type: str
      version:
        description:
          - TorchServe model version, as in the archive. Default V(1.0).
        type: str
      format:
        description:
          - KServe model format, for example V(sklearn), V(xgboost), V(lightgbm). Required for V(kserve).
            Other formats need O(kserve.runtime).
        type: str
      format_version:
        description:
          - KServe model format version.
        type: str
  replicas:
    description:
      - Number of serving pods; 0 stops serving. Negative numbers are refused.
    type: int
    default: 1
  resources:
    description:
      - Container C(requests) and C(limits) as in a pod spec. A request above its limit is refused; extended
        resources (V(nvidia.com/*)) must be whole numbers and requests equal limits.
    type: dict
  gpu:
    description:
      - GPUs for the server container, added to O(resources). Adds the toleration for the V(nvidia.com/gpu)
        NoSchedule taint.
    type: dict
    suboptions:
      count:
        description:
          - How many devices; whole numbers only. Share GPUs by O(gpu.mig_profile) or a time-sliced O(gpu.resource).
        type: raw
        default: 1
      resource:
        description:
          - The resource to request, V(nvidia.com/gpu) (default) or a time-sliced one such as V(nvidia.com/gpu.shared).
        type: str
      mig_profile:
        description:
          - A MIG profile such as V(1g.10gb); requested as V(nvidia.com/mig-<profile>) (mixed strategy).
        type: str
      mig_strategy:
        description:
          - The device plugin's MIG strategy. V(single) requests V(nvidia.com/gpu) on nodes whose product label names
            the profile (needs O(gpu.product)); V(none) cannot give MIG devices and is refused with a profile.
        type: str
        choices: [none, single, mixed]
        default: mixed
      product:
        description:
          - Place pods on nodes with this V(nvidia.com/gpu.product) label, for example V(NVIDIA-H100-80GB-HBM3).
        type: str
  node_selector:
    description:
      - Further node labels the pods need. Values are strings; an unquoted YAML V(true) is refused, not converted.
    type: dict
    default: {}
  tolerations:
    description:
      - Tolerations with the pod spec's field names, added to the GPU taint toleration.
    type: list
    elements: dict
    default: []
  spread:
    description:
      - Spread replicas across nodes (V(kubernetes.io/hostname)). V(prefer) schedules anyway when it cannot,
        V(require) leaves such pods Pending, V(none) does not spread.
    type: str
    choices: [none, prefer, require]
    default: prefer
  labels:
    description:
      - Labels added to every object and pod. Values are strings.
    type: dict
    default: {}
  ports:
    description:
      - Port numbers, overriding the runtime's defaults (TF Serving grpc 8500, http 8501; Triton http 8000, grpc 8001,
        metrics 8002; TorchServe http 8080, management 8081, metrics 8082, grpc 7070; KServe http 8080, grpc 8081).
        Two ports with one number are refused.
    type: dict
    suboptions:
      http:
        description: HTTP (REST) inference port.
        type: int
      grpc:
        description: gRPC inference port.
        type: int
      metrics:
        description: Prometheus metrics port (Triton, TorchServe).
        type: int
      management:
        description: Management API port (TorchServe).
        type: int
  startup_timeout:
    description:
      - Seconds the model may take to load before the startup probe gives up and the container restarts.
    type: int
    default: 600
  termination_grace_period:
    description:
      - Seconds a stopping pod has to finish its requests (after a short preStop pause that lets endpoints update).
    type: int
    default: 60
  max_unavailable:
    description:
      - The PodDisruptionBudget's maxUnavailable, a number of pods or a percentage such as V('25%').
    type: raw
    default: 1
  read_only_root_filesystem:
    description:
      - Run the server with a read-only root filesystem; the runtime's scratch directories are emptyDirs.
    type: bool
    default: true
  warmup:
    description:
      - Warm the serving process before the pod is Ready. Leave out for no warmup.
    type: dict
    suboptions:
      count:
        description: Number of successful warmup requests.
        type: int
        default: 10
      body:
        description:
          - The body of one inference request (a mapping is sent as JSON). Required except for Triton.
        type: raw
      content_type:
        description: Content type of O(warmup.body).
        type: str
        default: application/json
      inputs:
        description:
          - Triton only. Each input of the model with C(name), C(data_type) (for example V(TYPE_FP32)) and C(dims)
            (without the batch dimension); rendered as C(model_warmup) with zero data. Defaults to O(model.inputs).
        type: list
        elements: dict
      image:
        description: Image of the warmup sidecar, pinned.
        type: str
        default: docker.io/library/python:3.12.12-slim-bookworm
      listen_port:
        description: Port of the sidecar's C(/ready) endpoint.
        type: int
        default: 8099
      poll_interval_s:
        description: Seconds between health checks of the server.
        type: float
        default: 1.0
      request_timeout_s:
        description: Timeout of one warmup request.
        type: float
        default: 10.0
  kserve:
    description:
      - KServe settings, for O(runtime=kserve) only.
    type: dict
    suboptions:
      deployment_mode:
        description:
          - V(Standard) (a Deployment) or V(Knative). KServe's old names V(RawDeployment) and V(Serverless) are refused
            with the current name.
        type: str
        default: Standard
      protocol:
        description: V(v1) (KServe V1) or V(v2) (Open Inference Protocol); chooses the health and inference paths.
        type: str
        choices: [v1, v2]
        default: v1
      runtime:
        description: An existing ServingRuntime or ClusterServingRuntime to use instead of the rendered one.
        type: str
      canary_traffic_percent:
        description: Share of traffic, 0 to 100, for the latest revision; the previous one serves the rest.
        type: int
      max_replicas:
        description:
          - The most replicas KServe's own autoscaler may run; O(replicas) is the least. Defaults to O(replicas) (at least
            1), which leaves the replica count fixed.
          - To scale on a GPU or queue signal instead, use M(inferops.kubernetes.inference_autoscaling), which turns
            KServe's own autoscaler off for this InferenceService.
        type: int
      scale_metric:
        description:
          - The metric KServe's own autoscaler scales on. V(Standard) mode (KServe makes an HPA) takes V(cpu) or V(memory);
            V(concurrency) and V(rps) are Knative's and need O(kserve.deployment_mode=Knative).
        type: str
        choices: [cpu, memory, concurrency, rps]
      scale_target:
        description: The target of O(kserve.scale_metric) per replica (for V(cpu), a utilisation percentage).
        type: int
  overrides:
    description:
      - Partial objects deep-merged into the built ones, matched by C(kind) (and C(metadata.name) when given);
        mappings merge, lists replace. The retired V(serving.kubeflow.org) API and boolean label values are refused.
    type: list
    elements: dict
    default: []
  service_account:
    description:
      - The ServiceAccount the pods run as; the namespace's V(default) account when not given. The account must exist
        (M(inferops.kubernetes.inference_access) writes one with least-privilege RBAC).
    type: str
  service_account_token:
    description:
      - Mount the account's API token into the pods. Off by default, as a model server needs no Kubernetes API; turn it
        on only for a server that calls the API.
    type: bool
    default: false
  create_namespace:
    description:
      - Create O(namespace) too, with Pod Security C(restricted) enforced (the stack's pods are built to pass it).
        With O(state=absent) the namespace stays, since it may hold more than this stack.
    type: bool
    default: false
  mode:
    description:
      - V(apply) writes to the cluster; V(render) writes the same objects as YAML files to O(render_dir) and needs
        no cluster. V(render) takes only O(state=present).
    type: str
    choices: [apply, render]
    default: apply
  render_dir:
    description:
      - Directory for O(mode=render); one file per object, named by apply order, kind and name.
    type: path
  wait:
    description:
      - Wait until the Deployment (or InferenceService) is available with the new revision. Ignored in check mode.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait. On timeout the module fails with a diagnosis of the cause.
    type: int
    default: 600
  rollback_on_failure:
    description:
      - When the wait fails, put the Deployment back to its previous revision and say so.
    type: bool
    default: false
extends_documentation_fragment:
  - inferops.kubernetes.k8s_auth
  - inferops.kubernetes.k8s_apply
  - inferops.kubernetes.k8s_apply.STATE
  - inferops.kubernetes.attributes
  - inferops.kubernetes.attributes.ACTION_GROUP
attributes:
  idempotent:
    support: full
notes:
  - With O(mode=render), check mode writes no file and reports the files that would change.
  - The KServe objects need the KServe CRDs; with no KServe controller the InferenceService is stored but no pod starts.
  - With a MIG profile or GPU product that no node advertises, the module warns (pods would stay Pending).
seealso:
  - name: Serving runtimes in this collection
    description: docs/serving-runtimes.md, with an example per runtime.
    link: https://github.com/inferops/kubernetes/blob/main/docs/serving-runtimes.md
"""

EXAMPLES = r"""
- name: TF Serving, two versions with labels, one H100 each, warmed before Ready
  inferops.kubernetes.inference_stack:
    name: resnet
    namespace: serving
    runtime: tensorflow_serving
    model:
      name: resnet
      pvc: models
      path: resnet
      versions: [1, 2]
      version_labels: {stable: 1, canary: 2}
    replicas: 2
    resources:
      requests: {cpu: "4", memory: 16Gi}
      limits: {memory: 16Gi}
    gpu:
      count: 1
      product: NVIDIA-H100-80GB-HBM3
    warmup:
      count: 20
      body: {instances: [[0.0, 0.0, 0.0]]}
    wait: true
    rollback_on_failure: true

- name: ONNX model on Triton's onnxruntime backend, in a 1g.10gb MIG slice, native model_warmup
  inferops.kubernetes.inference_stack:
    name: bert
    runtime: onnxruntime
    model: {name: bert, pvc: models, path: bert, versions: [1]}
    gpu: {mig_profile: 1g.10gb}
    warmup:
      inputs:
        - {name: input_ids, data_type: TYPE_INT64, dims: [128]}

- name: TorchServe on a time-sliced L4
  inferops.kubernetes.inference_stack:
    name: densenet
    runtime: torchserve
    model: {name: densenet, pvc: models, path: torchserve, mar_file: densenet161.mar}
    gpu: {resource: nvidia.com/gpu.shared, product: NVIDIA-L4-SHARED}
    warmup:
      body: '{"data": [0.1, 0.2]}'

- name: KServe sklearn model, Standard mode, Open Inference Protocol
  inferops.kubernetes.inference_stack:
    name: iris
    runtime: kserve
    model: {name: iris, format: sklearn, storage_uri: gs://kfserving-examples/models/sklearn/1.0/model}
    kserve: {deployment_mode: Standard, protocol: v2}

- name: The same stack as YAML files for a GitOps repository
  inferops.kubernetes.inference_stack:
    name: iris
    runtime: kserve
    model: {name: iris, format: sklearn, storage_uri: gs://kfserving-examples/models/sklearn/1.0/model}
    mode: render
    render_dir: "{{ playbook_dir }}/gitops/iris"
"""

RETURN = r"""
objects:
  description:
    - Each object, in apply order, whether it changed and whether it was created (in render mode, its file).
    - With O(state=absent), the objects deleted or withdrawn from, in removal order.
  returned: always
  type: list
  elements: dict
  sample: [{"ref": "Deployment serving/resnet", "changed": true, "created": true}]
kept:
  description: With O(state=absent), objects left in place and why (another field manager writes them, or this one never did).
  returned: when O(state=absent)
  type: list
  elements: str
rendered_files:
  description: The files written (or, in check mode, that would be written) by O(mode=render).
  returned: when O(mode=render)
  type: list
  elements: str
  sample: ["/srv/gitops/iris/00-servingruntime-iris-runtime.yaml"]
rollout:
  description:
    - The rollout wait's result, C(ready), C(elapsed_s), C(objects) (kind, name, namespace, ready, reason) and,
      when not ready, C(diagnosis) (cause, pod, message, details).
  returned: when O(wait) and not in check mode
  type: dict
rollback:
  description: C(rolled_back), C(from_revision), C(to_revision) and C(reason), when O(rollback_on_failure) acted.
  returned: when the wait failed and O(rollback_on_failure)
  type: dict
diff:
  description: Before and after of each changed object (or file), without server bookkeeping.
  returned: in diff mode, when changed
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.runner import run_module
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.runner import api_argument_spec
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack import options
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.deploy import run_inference_stack


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(**options.ARGUMENT_SPEC),
        required_if=options.REQUIRED_IF,
        supports_check_mode=True,
    )
    run_module(module, lambda: run_inference_stack(module))


if __name__ == "__main__":
    main()
