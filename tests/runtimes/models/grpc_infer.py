"""One Open Inference Protocol (V2) gRPC request with tritonclient, under the runtimes venv; prints JSON.

    python grpc_infer.py HOST:PORT MODEL INPUT_NAME DATATYPE '[[...]]'
"""

import json
import sys

import numpy as np
import tritonclient.grpc as grpcclient

NUMPY = {"FP32": np.float32, "FP64": np.float64, "INT64": np.int64}


def _contents(output):
    for values in output.get("contents", {}).values():
        if values:
            return values
    return []


def main(address, model, name, datatype, data):
    client = grpcclient.InferenceServerClient(address)
    array = np.asarray(json.loads(data), dtype=NUMPY[datatype])
    tensor = grpcclient.InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array)
    result = client.infer(model, [tensor])
    response = result.get_response(as_json=True)
    if result.get_response().raw_output_contents:  # Triton answers with raw bytes
        outputs = {output["name"]: result.as_numpy(output["name"]).tolist() for output in response["outputs"]}
    else:  # the KServe model server answers with typed contents (int64_contents, fp32_contents, ...)
        outputs = {output["name"]: [NUMPY[output["datatype"]](v).item() for v in _contents(output)] for output in response["outputs"]}
    print(json.dumps({"server_live": client.is_server_live(), "model_ready": client.is_model_ready(model),
                      "model_name": response["model_name"], "outputs": outputs}))


if __name__ == "__main__":
    main(*sys.argv[1:])
