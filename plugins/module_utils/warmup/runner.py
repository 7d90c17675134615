# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The warmup module's work: validate, build the request, warm, report (run through common.runner)."""

from __future__ import annotations

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.errors import InferopsError, InputError
from ansible_collections.inferops.kubernetes.plugins.module_utils.inference.protocols import ProtocolError, build_request
from ansible_collections.inferops.kubernetes.plugins.module_utils.inference.session import Session
from ansible_collections.inferops.kubernetes.plugins.module_utils.inference.warmup import run_warmup


def _check_limits(params):
    problems = []
    for name in ("settle_count", "max_requests"):
        if params[name] < 1:
            problems.append("%s must be at least 1, got %s" % (name, params[name]))
    for name in ("timeout", "max_time", "settle_tolerance"):
        if params[name] <= 0:
            problems.append("%s must be above 0, got %s" % (name, params[name]))
    if params["max_errors"] < 0:
        problems.append("max_errors must be 0 or more, got %s" % params["max_errors"])
    if params["max_requests"] < params["settle_count"] + 1:
        problems.append("max_requests (%d) must exceed settle_count (%d): the first, cold request never counts toward settling"
                        % (params["max_requests"], params["settle_count"]))
    url = params["url"]
    if not url.startswith(("http://", "https://")):
        problems.append("url must start with http:// or https://, got %r" % url)
    clash = sorted(set(k.lower() for k in params["headers"]) & set(k.lower() for k in params["secret_headers"]))
    if clash:
        problems.append("header(s) %s given in both headers and secret_headers; give each once" % ", ".join(clash))
    return problems


def warmup_result(module):
    """The module's result; a bad option raises InputError, no successful request InferopsError."""
    params = module.params
    problems = _check_limits(params)
    try:
        request = build_request(params["protocol"], params["model"], params["model_version"], params["payload"],
                                params["method"], params["path"])
    except ProtocolError as exc:
        problems.append(str(exc))
    if problems:
        raise InputError("; ".join(problems))

    headers = dict(request["headers"])
    headers.update({str(k): str(v) for k, v in params["headers"].items()})
    shown = {"method": request["method"], "url": params["url"].rstrip("/") + request["path"], "headers": dict(headers)}
    if params["secret_headers"]:
        shown["secret_headers"] = sorted(params["secret_headers"])
    if module.check_mode:
        return dict(changed=False, settled=False, requests_sent=0, errors=0, error_details=[], warm_latency_ms={},
                    cold_to_warm_ratio=None, latencies_ms=[], elapsed_s=0.0, request=shown,
                    reason="check mode: no request was sent")

    headers.update({str(k): str(v) for k, v in params["secret_headers"].items()})
    session = Session(params["url"], timeout=params["timeout"], validate_certs=params["validate_certs"],
                      ca_path=params["ca_path"], client_cert=params["client_cert"], client_key=params["client_key"],
                      headers=headers)
    try:
        report = run_warmup(lambda: session.send(request["method"], request["path"], request["body"]),
                            settle_count=params["settle_count"], tolerance_pct=params["settle_tolerance"],
                            max_requests=params["max_requests"], max_time_s=params["max_time"],
                            max_errors=params["max_errors"])
    finally:
        session.close()
    report["request"] = shown
    if report["cold_latency_ms"] is None:
        last = report["error_details"][-1] if report["error_details"] else {}
        raise InferopsError("no warmup request succeeded: %s" % _describe(last), result=dict(changed=False, **report))
    if params["fail_if_unsettled"] and not report["settled"]:
        raise InferopsError("latency did not settle: %s" % report["reason"], result=dict(changed=False, **report))
    return dict(changed=False, **report)


def _describe(error):
    if not error:
        return "nothing was sent"
    if error.get("status") is None:
        return "no answer (%s)" % error.get("error")
    return "HTTP %s: %s" % (error["status"], error.get("body", "")[:200])
