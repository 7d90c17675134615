"""Each real inference server answers real inference requests over each of its protocols."""

from __future__ import annotations

import servers
from servers import IRIS_ROWS, LINEAR_ROW, http

# The ONNX model and the TorchScript module compute y = x @ W + b with W = [[1, 0], [0, 1], [1, 1], [2, -1]]
# and b = [0.5, -0.5] (TorchServe's module adds a ReLU); for x = [1, 2, 3, 4]: y = [12.5, 0.5].
LINEAR_Y = [1 + 3 + 2 * 4 + 0.5, 2 + 3 - 4 - 0.5]
# The iris rows are a versicolor (class 1) and a setosa (class 0) flower.
IRIS_CLASSES = [1, 0]


def test_kserve_model_server_v1_v2_rest_and_v2_grpc(workdir):
    with servers.running(servers.kserve_server(workdir)) as server:
        assert http("GET", server.http + "/v2/health/ready")[0] == 200
        status, body = http("POST", server.http + "/v1/models/iris:predict", {"instances": IRIS_ROWS})
        assert status == 200 and body["predictions"] == IRIS_CLASSES

        status, body = http("POST", server.http + "/v2/models/iris/infer",
                            {"inputs": [{"name": "input-0", "shape": [2, 4], "datatype": "FP32", "data": IRIS_ROWS}]})
        assert status == 200 and body["model_name"] == "iris" and body["outputs"][0]["data"] == IRIS_CLASSES

        result = servers.grpc_infer(server.grpc, "iris", "input-0", "FP32", IRIS_ROWS)
        assert result["model_ready"] is True and result["outputs"] == {"output-0": IRIS_CLASSES}

        status, body = http("POST", server.http + "/v1/models/nope:predict", {"instances": IRIS_ROWS})
        assert status == 404 and "nope" in body["error"]


def test_triton_v2_rest_and_grpc_with_an_onnx_model(workdir):
    with servers.running(servers.triton_server(workdir)) as server:
        status, body = http("POST", server.http + "/v2/models/linear/infer",
                            {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [LINEAR_ROW]}]})
        assert status == 200 and body["outputs"][0]["name"] == "y" and body["outputs"][0]["data"] == LINEAR_Y

        result = servers.grpc_infer(server.grpc, "linear", "x", "FP32", [LINEAR_ROW])
        assert result["model_ready"] is True and result["outputs"] == {"y": [LINEAR_Y]}

        status, body = http("POST", server.http + "/v2/models/linear/infer",
                            {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [[1, 2, 3]]}]})
        assert status == 400 and "error" in body


def _executions(server):
    status, body = http("GET", server.http + "/v2/models/linear/stats")
    assert status == 200
    return body["model_stats"][0]["execution_count"]


def test_triton_native_model_warmup_runs_before_ready(workdir):
    # config.pbtxt's model_warmup has count 10: the model has executed 10 times when the server first says ready.
    with servers.running(servers.triton_server(workdir, native_warmup=True)) as server:
        assert _executions(server) == 10
    with servers.running(servers.triton_server(workdir, native_warmup=False)) as server:
        assert _executions(server) == 0


def test_torchserve_inference_api(workdir):
    with servers.running(servers.torchserve_server(workdir)) as server:
        assert http("GET", server.http + "/ping") == (200, {"status": "Healthy"})
        status, body = http("POST", server.http + "/predictions/tiny", {"data": LINEAR_ROW})
        assert status == 200 and body == LINEAR_Y
        status, body = http("POST", server.http + "/predictions/nope", {"data": LINEAR_ROW})
        assert status == 404


def test_tf_serving_rest_standin(workdir):
    # A STAND-IN for TF Serving's documented REST JSON (tfserving_standin.py), not TensorFlow Serving.
    with servers.running(servers.tf_serving_standin(workdir)) as server:
        status, body = http("GET", server.http + "/v1/models/m")
        assert status == 200 and body["model_version_status"][0]["state"] == "AVAILABLE"
        assert http("POST", server.http + "/v1/models/m:predict", {"instances": [[1, 2], [3]]}) == (200, {"predictions": [7, 7]})
        assert http("POST", server.http + "/v1/models/m/versions/1:predict", {"inputs": [[1]]}) == (200, {"outputs": [3]})
        assert http("POST", server.http + "/v1/models/m:predict", {"rows": [1]})[0] == 400
        assert http("GET", server.http + "/v1/models/other")[0] == 404


def test_servers_stop_with_their_whole_process_group(workdir):
    server = servers.torchserve_server(workdir)
    with servers.running(server):
        group = server.process.pid
        assert http("POST", server.http + "/predictions/tiny", {"data": LINEAR_ROW})[0] == 200
        assert len(servers.group_members(group)) >= 2  # the torchserve launcher and its Java frontend at least
    assert servers.group_members(group) == [] and http("GET", server.http + "/ping")[0] is None
