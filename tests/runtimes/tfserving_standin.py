"""STAND-IN for TensorFlow Serving's REST API (TF Serving has no binary that installs offline).

This is not TensorFlow Serving. It is a small HTTP server that answers the documented REST JSON of
TF Serving (https://www.tensorflow.org/tfx/serving/api_rest) so that clients of that protocol (the
warmup module's ``tf_serving`` preset, the warmup agent's health URL) are tested against the real
request and response shapes:

- ``GET /v1/models/<m>`` and ``GET /v1/models/<m>/versions/<v>``: ``{"model_version_status": [...]}``
  with state ``AVAILABLE`` (``LOADING`` during ``--load-delay``), 404 ``{"error": ...}`` for an unknown model;
- ``POST /v1/models/<m>[/versions/<v>|/labels/<l>]:predict`` with ``{"instances": [...]}`` (row format,
  answered with ``{"predictions": [...]}``) or ``{"inputs": ...}`` (columnar, ``{"outputs": ...}``);
  400 ``{"error": ...}`` for malformed JSON, both or neither of instances/inputs, or non-numeric input.

The "model" is a fixed linear function of each instance's numbers: sum(x) * 2 + 1.
Stdlib only: ``python tfserving_standin.py --port P --model NAME``.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATUS = re.compile(r"^/v1/models/([^/:]+)(?:/versions/(\d+))?$")
PREDICT = re.compile(r"^/v1/models/([^/:]+)(?:/versions/(\d+)|/labels/([^/:]+))?:predict$")


def _score(instance):
    if isinstance(instance, (int, float)) and not isinstance(instance, bool):
        return instance
    if isinstance(instance, list):
        return sum(_score(item) for item in instance)
    raise ValueError("instance values must be numbers or lists of numbers, got %r" % (instance,))


def make_handler(model, version, ready_at):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _send(self, code, document):
            payload = json.dumps(document).encode("utf-8")
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _loaded(self):
            return time.monotonic() >= ready_at

        def do_GET(self):
            match = STATUS.match(self.path)
            if not match or match.group(1) != model:
                name = match.group(1) if match else self.path
                return self._send(404, {"error": "Could not find any versions of model %s" % name})
            if match.group(2) and match.group(2) != version:
                return self._send(404, {"error": "Could not find version %s of model %s" % (match.group(2), model)})
            state = "AVAILABLE" if self._loaded() else "LOADING"
            return self._send(200, {"model_version_status": [
                {"version": version, "state": state, "status": {"error_code": "OK", "error_message": ""}}]})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            match = PREDICT.match(self.path)
            if not match or match.group(1) != model:
                return self._send(404, {"error": "Servable not found for request: %s" % self.path})
            if match.group(2) and match.group(2) != version:
                return self._send(404, {"error": "Servable not found for request: Specific(%s, %s)" % (model, match.group(2))})
            if not self._loaded():
                return self._send(503, {"error": "Servable %s is still loading" % model})
            try:
                body = json.loads(raw.decode("utf-8"))
            except ValueError as exc:
                return self._send(400, {"error": "JSON Parse error: %s" % exc})
            if not isinstance(body, dict) or ("instances" in body) == ("inputs" in body):
                return self._send(400, {"error": "Missing 'inputs' or 'instances' key"})
            try:
                if "instances" in body:
                    if not isinstance(body["instances"], list):
                        raise ValueError("'instances' must be a list")
                    return self._send(200, {"predictions": [_score(item) * 2 + 1 for item in body["instances"]]})
                inputs = body["inputs"]
                if isinstance(inputs, dict):
                    return self._send(200, {"outputs": {key: [_score(item) * 2 + 1 for item in value] for key, value in inputs.items()}})
                return self._send(200, {"outputs": [_score(item) * 2 + 1 for item in inputs]})
            except (ValueError, TypeError) as exc:
                return self._send(400, {"error": str(exc)})

        def log_message(self, format, *args):  # pylint: disable=redefined-builtin
            return

    return Handler


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", default="m")
    parser.add_argument("--version", default="1")
    parser.add_argument("--load-delay", type=float, default=0.0, help="seconds the model reports LOADING")
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(args.model, args.version, time.monotonic() + args.load_delay))
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=server.shutdown, daemon=True).start())
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
