"""Make the tiny models the runtime tests serve, under the runtimes venv: nothing comes from a model hub.

    python make_models.py OUT_DIR

OUT_DIR/sklearn/model.joblib        LogisticRegression fitted on scikit-learn's bundled iris data (KServe)
OUT_DIR/triton/linear/              Triton model repository entry: config.pbtxt (with model_warmup) and
                                    1/model.onnx (made with onnx.helper) run by 1/model.py through onnxruntime
OUT_DIR/triton-cold/linear/         the same model without model_warmup (the benchmark's baseline)
OUT_DIR/torchserve/tiny.mar         a few-line torch module, TorchScript, archived by torch-model-archiver
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

TRITON_CONFIG = """name: "linear"
backend: "python"
max_batch_size: 8
input [ { name: "x", data_type: TYPE_FP32, dims: [ 4 ] } ]
output [ { name: "y", data_type: TYPE_FP32, dims: [ 2 ] } ]
instance_group [ { kind: KIND_CPU, count: 1 } ]
"""
TRITON_WARMUP = """model_warmup [
  {
    name: "sample"
    batch_size: 1
    count: 10
    inputs { key: "x", value: { data_type: TYPE_FP32, dims: [ 4 ], random_data: true } }
  }
]
"""


def sklearn_model(out):
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    data = load_iris()
    model = LogisticRegression(max_iter=500).fit(data.data, data.target)
    out.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, out / "model.joblib")


def onnx_linear(path):
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = numpy_helper.from_array(np.array([[1, 0], [0, 1], [1, 1], [2, -1]], dtype=np.float32), "W")
    bias = numpy_helper.from_array(np.array([0.5, -0.5], dtype=np.float32), "B")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["xw"]), helper.make_node("Add", ["xw", "B"], ["y"])],
        "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])],
        initializer=[weights, bias],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))


def triton_repository(out, warmup):
    version = out / "linear" / "1"
    onnx_linear(version / "model.onnx")
    shutil.copy(HERE / "triton_onnx_model.py", version / "model.py")
    (out / "linear" / "config.pbtxt").write_text(TRITON_CONFIG + (TRITON_WARMUP if warmup else ""))


def torchserve_archive(out):
    import torch

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(4, 2)
            with torch.no_grad():
                self.linear.weight.copy_(torch.tensor([[1.0, 0.0, 1.0, 2.0], [0.0, 1.0, 1.0, -1.0]]))
                self.linear.bias.copy_(torch.tensor([0.5, -0.5]))

        def forward(self, x):
            return torch.relu(self.linear(x))

    out.mkdir(parents=True, exist_ok=True)
    build = out / "build"
    build.mkdir(exist_ok=True)
    torch.jit.script(Tiny()).save(str(build / "tiny.pt"))
    subprocess.run([str(Path(sys.executable).parent / "torch-model-archiver"), "--model-name", "tiny", "--version", "1.0",
                    "--serialized-file", str(build / "tiny.pt"), "--handler", str(HERE / "torchserve_handler.py"),
                    "--export-path", str(out), "--force"], check=True)


def main(out):
    out = Path(out)
    sklearn_model(out / "sklearn")
    triton_repository(out / "triton", warmup=True)
    triton_repository(out / "triton-cold", warmup=False)
    torchserve_archive(out / "torchserve")
    (out / ".done").write_text("ok\n")


if __name__ == "__main__":
    main(sys.argv[1])
