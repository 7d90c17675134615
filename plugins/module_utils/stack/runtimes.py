# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What each serving runtime is, as facts: pinned images, real default ports, real health
endpoints, the storage it reads models from. Validation and the builders both read this table;
nothing else in the stack hard-codes a port or a path.
"""

from __future__ import annotations

from ansible_collections.inferops.kubernetes.plugins.module_utils.inference import protocols

RUNTIMES = ("tensorflow_serving", "torchserve", "triton", "onnxruntime", "kserve")

# The user id the runtimes' own images run as (tensorflow/serving runs as root by default;
# the pod sets this id so that runAsNonRoot holds for every runtime).
RUN_AS_USER = 1000

# Pinned images. A GPU variant is used when the pod requests GPUs, where the runtime ships one.
IMAGES = {
    "tensorflow_serving": {"cpu": "docker.io/tensorflow/serving:2.18.0", "gpu": "docker.io/tensorflow/serving:2.18.0-gpu"},
    "torchserve": {"cpu": "docker.io/pytorch/torchserve:0.12.0-cpu", "gpu": "docker.io/pytorch/torchserve:0.12.0-gpu"},
    # onnxruntime is Triton's onnxruntime backend: the standalone ONNX Runtime server is deprecated.
    "triton": {"cpu": "nvcr.io/nvidia/tritonserver:25.10-py3", "gpu": "nvcr.io/nvidia/tritonserver:25.10-py3"},
    "onnxruntime": {"cpu": "nvcr.io/nvidia/tritonserver:25.10-py3", "gpu": "nvcr.io/nvidia/tritonserver:25.10-py3"},
}

# KServe model servers of the release whose CRDs the collection is tested against (v0.17.0),
# by model format; a ServingRuntime with this image is rendered unless kserve.runtime names one.
KSERVE_VERSION = "v0.17.0"
KSERVE_IMAGES = {
    "sklearn": "docker.io/kserve/sklearnserver:%s" % KSERVE_VERSION,
    "xgboost": "docker.io/kserve/xgbserver:%s" % KSERVE_VERSION,
    "lightgbm": "docker.io/kserve/lgbserver:%s" % KSERVE_VERSION,
}

# The warmup sidecar runs a stdlib-only script: any small Python image does.
WARMUP_IMAGE = "docker.io/library/python:3.12.12-slim-bookworm"
WARMUP_PORT = 8099

# Named container ports. Service ports are the ones listed in SERVICE_PORTS.
PORTS = {
    "tensorflow_serving": {"grpc": 8500, "http": 8501},
    "triton": {"http": 8000, "grpc": 8001, "metrics": 8002},
    "onnxruntime": {"http": 8000, "grpc": 8001, "metrics": 8002},
    "torchserve": {"http": 8080, "management": 8081, "metrics": 8082, "grpc": 7070},
    # The KServe Python model server: REST on 8080, gRPC (v2) on 8081.
    "kserve": {"http": 8080, "grpc": 8081},
}
SERVICE_PORTS = ("http", "grpc", "metrics")

# Storage URI schemes each runtime reads by itself. Triton reads its repository from a PVC here,
# so that the module can place the model configuration (with model_warmup) next to the versions.
STORAGE_SCHEMES = {
    "tensorflow_serving": ("gs",),
    "torchserve": ("https",),
    "triton": (),
    "onnxruntime": (),
    "kserve": ("gs", "s3", "https", "http", "pvc", "hf", "oci", "hdfs", "webhdfs"),
}

# Triton backends (platform names where Triton wants a platform instead).
TRITON_BACKENDS = ("onnxruntime", "tensorrt", "pytorch", "tensorflow", "python", "openvino")
TRITON_DATA_TYPES = (
    "TYPE_BOOL", "TYPE_UINT8", "TYPE_UINT16", "TYPE_UINT32", "TYPE_UINT64", "TYPE_INT8", "TYPE_INT16", "TYPE_INT32",
    "TYPE_INT64", "TYPE_FP16", "TYPE_FP32", "TYPE_FP64", "TYPE_STRING", "TYPE_BF16",
)

KSERVE_DEPLOYMENT_MODES = ("Standard", "Knative")
# Names KServe still reads but has renamed; the module asks for the current ones.
KSERVE_LEGACY_MODES = {"RawDeployment": "Standard", "Serverless": "Knative"}
KSERVE_PROTOCOLS = ("v1", "v2")

# Where the model lands inside the serving container.
MODEL_ROOT = {
    "tensorflow_serving": "/models",
    "torchserve": "/home/model-server/model-store",
    "triton": "/models",
    "onnxruntime": "/models",
    "kserve": "/mnt/models",
}


def health_path(runtime, model_name, protocol="v1"):
    """The HTTP path that answers 200 once the model can serve."""
    if runtime == "tensorflow_serving":
        return protocols.v1_model_path(model_name)
    if runtime in ("triton", "onnxruntime"):
        return protocols.V2_HEALTH_READY
    if runtime == "torchserve":
        return protocols.TORCHSERVE_PING
    if protocol == "v2":
        return protocols.v2_model_ready_path(model_name)
    return protocols.v1_model_path(model_name)


def liveness_path(runtime, model_name, protocol="v1"):
    """A path that answers while the process is alive, whether or not the model is loaded."""
    if runtime in ("triton", "onnxruntime"):
        return protocols.V2_HEALTH_LIVE
    if runtime == "kserve":
        return protocols.V2_HEALTH_LIVE if protocol == "v2" else protocols.KSERVE_V1_LIVE
    return health_path(runtime, model_name, protocol)


def predict_path(runtime, model_name, protocol="v1"):
    """Where an inference request for the model goes (the warmup sidecar's target)."""
    if runtime == "tensorflow_serving":
        return protocols.v1_predict_path(model_name)
    if runtime == "torchserve":
        return protocols.torchserve_predict_path(model_name)
    if runtime in ("triton", "onnxruntime") or protocol == "v2":
        return protocols.v2_infer_path(model_name)
    return protocols.v1_predict_path(model_name)


def uses_native_warmup(runtime):
    return runtime in ("triton", "onnxruntime")
