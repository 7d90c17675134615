"""KServe model server (the real kserve package) serving a scikit-learn model: V1 and V2 REST, V2 gRPC.

    python kserve_iris.py --model_dir DIR --http_port P --grpc_port G [--model_name NAME]

Each prediction writes one line, "inferops-sklearn: predicted N rows", to stdout: the tests on the real
node count the requests the server answered (warmup's among them) from the container's own log.
Also the entrypoint of the real node's localhost/inferops/kserve-sklearn image (tests/node/images.sh).
"""

import argparse
import uuid

import joblib
import numpy as np
from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer


class Iris(Model):
    def __init__(self, name, model_dir):
        super().__init__(name)
        self.model_dir = model_dir
        self.model = None
        self.load()

    def load(self):
        self.model = joblib.load(self.model_dir + "/model.joblib")
        self.ready = True
        return self.ready

    def predict(self, payload, headers=None, response_headers=None):
        if isinstance(payload, InferRequest):
            rows = payload.inputs[0].as_numpy()
            classes = self.model.predict(rows).astype(np.int64)
            print("inferops-sklearn: predicted %d rows" % len(rows), flush=True)
            output = InferOutput(name="output-0", shape=list(classes.shape), datatype="INT64", data=classes.tolist())
            return InferResponse(response_id=payload.id or str(uuid.uuid4()), model_name=self.name, infer_outputs=[output])
        rows = np.asarray(payload["instances"], dtype=np.float64)
        print("inferops-sklearn: predicted %d rows" % len(rows), flush=True)
        return {"predictions": self.model.predict(rows).tolist()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--model_name", default="iris")
    parser.add_argument("--model_dir", required=True)
    parser.add_argument("--http_port", type=int, required=True)
    parser.add_argument("--grpc_port", type=int, required=True)
    args = parser.parse_args()
    ModelServer(http_port=args.http_port, grpc_port=args.grpc_port, workers=1, enable_latency_logging=False).start(
        [Iris(args.model_name, args.model_dir)])
