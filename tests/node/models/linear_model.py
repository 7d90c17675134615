"""The local cluster's tiny model: a Triton python-backend model, y = x @ W + b, with numpy.

The harness (tests/node/models.sh) places this file as <repository>/linear/<version>/model.py with
linear.json beside it (W: 4x2, b: 2). Each execute() writes one line to stderr, which reaches the
container's log through the backend's stub process: the tests count those lines to see, from the
server's side, how many batches ran (the warmup's among them) before the pod turned Ready.
"""

import json
import os
import sys

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        path = os.path.join(args["model_repository"], args["model_version"], "linear.json")
        with open(path) as handle:
            weights = json.load(handle)
        self.w = np.array(weights["W"], dtype=np.float32)
        self.b = np.array(weights["b"], dtype=np.float32)
        self.version = args["model_version"]

    def execute(self, requests):
        responses = []
        for request in requests:
            x = pb_utils.get_input_tensor_by_name(request, "x").as_numpy().astype(np.float32)
            y = x @ self.w + self.b
            responses.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("y", y.astype(np.float32))]))
        print("inferops-linear: executed %d request(s), version %s" % (len(requests), self.version), file=sys.stderr, flush=True)
        return responses
