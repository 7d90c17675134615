"""Triton python-backend model: runs model.onnx (beside this file) with onnxruntime on CPU.

The tritonserver in nvidia-pytriton's wheel ships only the python backend, not the onnxruntime backend,
so the ONNX model is executed by onnxruntime inside this Python model.
"""

import os

import numpy as np
import onnxruntime
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        path = os.path.join(args["model_repository"], args["model_version"], "model.onnx")
        self.session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])

    def execute(self, requests):
        responses = []
        for request in requests:
            x = pb_utils.get_input_tensor_by_name(request, "x").as_numpy().astype(np.float32)
            (y,) = self.session.run(["y"], {"x": x})
            responses.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("y", y)]))
        return responses
