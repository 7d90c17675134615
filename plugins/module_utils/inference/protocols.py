# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inference requests per serving protocol, as plain data (method, path, headers, body).

- ``tf_serving``: TensorFlow Serving REST, ``POST /v1/models/<m>[/versions/<v>]:predict`` with ``{"instances": [...]}``.
- ``kserve_v1``: the KServe V1 protocol, ``POST /v1/models/<m>:predict`` with ``{"instances": [...]}``.
- ``v2`` and ``triton``: the Open Inference Protocol (KServe V2) REST,
  ``POST /v2/models/<m>[/versions/<v>]/infer`` with ``{"inputs": [{"name", "shape", "datatype", "data"}]}``.
- ``torchserve``: ``POST /predictions/<m>[/<v>]`` with the body given as is (JSON for a dict or list).
- ``raw``: any method and path with the body given.

The REST path grammar of each protocol lives here and only here: the requests below, and the
inference stack's probes and warmup targets, are all spelt by the path functions of this module.
Model names and versions are percent-encoded; a name the stack accepts (letters, digits, ``_.-``)
comes out as it went in.
"""

from __future__ import annotations

import json
import urllib.parse

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.errors import InputError

PROTOCOLS = ("tf_serving", "kserve_v1", "v2", "triton", "torchserve", "raw")
METHODS = ("GET", "POST", "PUT")
JSON = "application/json"


class ProtocolError(InputError):
    """A request that cannot be built; the message names the option and the fix."""


# Path prefixes each protocol's model API answers under: what an Ingress or HTTPRoute sends to a model server.
V1_MODELS = "/v1/models"
V2_MODELS = "/v2/models"
TORCHSERVE_PREDICTIONS = "/predictions"

# Server-wide health endpoints (no model in the path).
V2_HEALTH_READY = "/v2/health/ready"
V2_HEALTH_LIVE = "/v2/health/live"
# TorchServe's inference API health check.
TORCHSERVE_PING = "/ping"
# The KServe V1 model server answers its root with {"status": "alive"} while the process runs.
KSERVE_V1_LIVE = "/"


def _quote(value):
    return urllib.parse.quote(str(value), safe="")


def v1_model_path(model, version=None):
    """TF Serving's model status (``/v1/models/<m>[/versions/<v>]``); without a version, KServe V1's model ready."""
    suffix = "/versions/%s" % _quote(version) if version else ""
    return "%s/%s%s" % (V1_MODELS, _quote(model), suffix)


def v1_predict_path(model, version=None):
    """TF Serving REST and KServe V1 predict (KServe V1 addresses no versions)."""
    return v1_model_path(model, version) + ":predict"


def v2_model_ready_path(model, version=None):
    """Open Inference Protocol (KServe V2) model readiness."""
    suffix = "/versions/%s" % _quote(version) if version else ""
    return "%s/%s%s/ready" % (V2_MODELS, _quote(model), suffix)


def v2_infer_path(model, version=None):
    """Open Inference Protocol (KServe V2) inference."""
    suffix = "/versions/%s" % _quote(version) if version else ""
    return "%s/%s%s/infer" % (V2_MODELS, _quote(model), suffix)


def torchserve_predict_path(model, version=None):
    """TorchServe's inference API: ``/predictions/<m>[/<v>]``."""
    suffix = "/%s" % _quote(version) if version else ""
    return "%s/%s%s" % (TORCHSERVE_PREDICTIONS, _quote(model), suffix)


def _encode(body):
    if body is None:
        return b"", None
    if isinstance(body, bytes):
        return body, None
    if isinstance(body, str):
        return body.encode("utf-8"), None
    return json.dumps(body, separators=(",", ":")).encode("utf-8"), JSON


def _require_model(model, protocol):
    if not model:
        raise ProtocolError("model is required with protocol=%s" % protocol)


def build_request(protocol, model=None, version=None, payload=None, method="POST", path=None):
    """Return {"method", "path", "headers", "body": bytes} for one inference request."""
    if protocol not in PROTOCOLS:
        raise ProtocolError("protocol must be one of %s, got %r" % (", ".join(PROTOCOLS), protocol))
    if protocol != "raw" and path:
        raise ProtocolError("path is only used with protocol=raw; protocol=%s builds its own path" % protocol)
    if protocol == "raw":
        if method not in METHODS:
            raise ProtocolError("method must be one of %s, got %r" % (", ".join(METHODS), method))
        if not path or not path.startswith("/"):
            raise ProtocolError("path is required with protocol=raw and must start with /, got %r" % (path,))
        body, content_type = _encode(payload)
        if body and method == "GET":
            raise ProtocolError("payload is set but method is GET; use POST or PUT to send a body")
        headers = {"Content-Type": content_type} if content_type else {}
        return {"method": method, "path": path, "headers": headers, "body": body}

    _require_model(model, protocol)
    if payload is None:
        raise ProtocolError("payload is required with protocol=%s (a sample input the model accepts)" % protocol)
    if protocol in ("tf_serving", "kserve_v1"):
        if protocol == "kserve_v1" and version:
            raise ProtocolError("the KServe V1 protocol has no model versions in its path; leave model_version unset")
        path = v1_predict_path(model, version)
        if isinstance(payload, list):
            payload = {"instances": payload}
        elif not (isinstance(payload, dict) and ("instances" in payload or "inputs" in payload)):
            raise ProtocolError("payload for protocol=%s must be the list of instances, or an object with "
                                "'instances' (row format) or 'inputs' (columnar format)" % protocol)
    elif protocol in ("v2", "triton"):
        path = v2_infer_path(model, version)
        if isinstance(payload, list):
            payload = {"inputs": payload}
        if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list) or not payload["inputs"]:
            raise ProtocolError("payload for protocol=%s must be a non-empty list of input tensors "
                                "({name, shape, datatype, data}) or an object with 'inputs'" % protocol)
        for index, tensor in enumerate(payload["inputs"]):
            missing = [key for key in ("name", "shape", "datatype", "data") if not isinstance(tensor, dict) or key not in tensor]
            if missing:
                raise ProtocolError("payload input %d lacks %s (each input tensor needs name, shape, datatype and data)"
                                    % (index, ", ".join(missing)))
    else:
        path = torchserve_predict_path(model, version)
    body, content_type = _encode(payload)
    return {"method": "POST", "path": path, "headers": {"Content-Type": content_type or "application/octet-stream"}, "body": body}


def health_path(protocol, model=None, version=None):
    """The path that says the model is loaded and ready, per protocol (None for raw)."""
    if protocol in ("tf_serving", "kserve_v1"):
        return v1_model_path(model, version if protocol == "tf_serving" else None)
    if protocol in ("v2", "triton"):
        return v2_model_ready_path(model, version)
    if protocol == "torchserve":
        return TORCHSERVE_PING
    return None
