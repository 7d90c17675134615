# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The monitoring spec: every option checked, defaults filled in, before anything is built.

`validate(params)` takes the module's options (a plain dict; missing ones take their defaults) and returns a
complete spec for the builders, with the rules' PromQL already parsed. A wrong option raises SpecError with
its path, what is wrong and the fix. Nothing here talks to the API (deploy.py asks whether the kinds are served).
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, NoReturn

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.options import option_defaults
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.validate import (
    valid_duration,
    valid_label_value,
    valid_labels,
)
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack import runtimes
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.autoscaling.spec import check_promql, check_service
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.monitoring import rules
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.monitoring.options import MONITORING_OPTIONS
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.spec import SpecError

DEFAULTS: Dict[str, Any] = option_defaults(MONITORING_OPTIONS)
RULE_FIELDS = ("record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations")
_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_PREFIX = re.compile(r"^([a-zA-Z_][a-zA-Z0-9_]*)?$")
_PORT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABELS_EXAMPLE = "{release: kube-prometheus-stack}"


def _fail(path: str, problem: str, fix: str) -> NoReturn:
    raise SpecError("%s: %s. %s" % (path, problem, fix))


def _ratio(path: str, value: Any, example: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        _fail(path, "expected a share between 0 and 1, got %r" % (value,), "For example %s." % example)
    return float(value)


def _port_name(value: Any) -> bool:
    """A port name as Kubernetes takes it (IANA service name: up to 15 characters, at least one letter)."""
    return isinstance(value, str) and len(value) <= 15 and bool(_PORT_NAME.match(value)) and any(c.isalpha() for c in value)


def _endpoint(params: Dict[str, Any], runtime) -> Dict[str, Any]:
    """Where Prometheus scrapes: {kind, port, path}; a ServiceMonitor where the stack's own Service exposes the
    metrics port, else a PodMonitor on the pods (KServe's predictor Service is its controller's, without it)."""
    port, path = params["metrics_port"], params["metrics_path"]
    if runtime.metrics is None and not port:
        if runtime.metrics_fix:
            _fail("runtime", "%s as inference_stack runs it serves no metrics endpoint" % runtime.name, runtime.metrics_fix)
        _fail("metrics_port", "%s has no known metrics endpoint and none was given" % runtime.name,
              "Give metrics_port (the port's name) and metrics_path where the server serves Prometheus metrics.")
    own_service = runtime.backend_service("x") == "x"
    port = port or runtime.metrics[0]
    path = path or (runtime.metrics[1] if runtime.metrics else "/metrics")
    if not isinstance(path, str) or not path.startswith("/"):
        _fail("metrics_path", "%r is not an HTTP path" % (path,), "Give the path, for example /metrics.")
    if own_service and port in runtime.service_ports or (own_service and params["metrics_port"]):
        if not _port_name(port):
            _fail("metrics_port", "%r is not a port name of the Service" % (port,),
                  "A ServiceMonitor names the Service's port: give its name, for example metrics or http.")
        return {"kind": "ServiceMonitor", "port": port, "path": path}
    if isinstance(port, str) and port.isdigit():
        return {"kind": "PodMonitor", "port_number": int(port), "path": path}
    if not runtime.named_container_ports and not params["metrics_port"]:
        # the runtime's controller names the container's ports itself (KServe): the port by number
        return {"kind": "PodMonitor", "port_number": runtime.ports[port], "path": path}
    if not _port_name(port):
        _fail("metrics_port", "%r is neither a container port's name nor a number" % (port,), "For example 8080.")
    return {"kind": "PodMonitor", "port": port, "path": path}


def _extra_rule(index: int, rule: Any) -> Dict[str, Any]:
    path = "extra_rules[%d]" % index
    if not isinstance(rule, dict) or set(rule) - set(RULE_FIELDS):
        _fail(path, "expected a Prometheus rule with only %s" % ", ".join(RULE_FIELDS),
              "Write it as in a Prometheus rules file, for example {alert: ModelDown, expr: 'up == 0', for: 5m}.")
    given = {k: v for k, v in rule.items() if v is not None}
    if ("record" in given) == ("alert" in given):
        _fail(path, "a rule is either a recording rule (record) or an alert (alert)", "Give exactly one of record and alert.")
    if "record" in given:
        if not isinstance(given["record"], str) or not _METRIC_NAME.match(given["record"]):
            _fail(path + ".record", "%r is not a metric name" % (given["record"],), "Use letters, digits, '_' and ':', for example job:requests:rate5m.")
        for field in ("for", "keep_firing_for", "annotations"):
            if field in given:
                _fail("%s.%s" % (path, field), "applies to alerts only", "Leave it out of a recording rule.")
    elif not isinstance(given["alert"], str) or not given["alert"].strip():
        _fail(path + ".alert", "expected the alert's name", "For example ModelDown.")
    check_promql(path + ".expr", given.get("expr"))
    for field in ("for", "keep_firing_for"):
        if field in given:
            valid_duration("%s.%s" % (path, field), given[field], "5m")
    for field in ("labels", "annotations"):
        if field in given:
            if not isinstance(given[field], dict):
                _fail("%s.%s" % (path, field), "expected a mapping", "Give names and string values.")
            given[field] = {str(k): valid_label_value("%s.%s.%s" % (path, field, k), v) if field == "labels" else str(v)
                            for k, v in given[field].items()}
    return given


def validate(params: Dict[str, Any]) -> Dict[str, Any]:
    """The complete spec; raises SpecError before anything is written."""
    params = dict(DEFAULTS, **{k: v for k, v in params.items() if v is not None or k not in DEFAULTS})
    state = params.get("state") or "present"
    check_service(params)
    runtime = runtimes.get(params["runtime"])
    spec: Dict[str, Any] = {
        "name": params["name"], "namespace": params["namespace"], "runtime": params["runtime"],
        "model_name": params["model_name"] or params["name"],
        "workload": params["name"] + runtime.workload_suffix,
        "labels": valid_labels("labels", params["labels"] or {}),
    }
    if state == "absent":
        return spec
    spec["prometheus_labels"] = valid_labels("prometheus_labels", params["prometheus_labels"] or {}, LABELS_EXAMPLE)
    if not spec["prometheus_labels"]:
        _fail("prometheus_labels", "empty, so your Prometheus selects none of these objects",
              "Set the labels its serviceMonitorSelector, podMonitorSelector and ruleSelector match, for example %s "
              "for kube-prometheus-stack installed as kube-prometheus-stack." % LABELS_EXAMPLE)
    interval = valid_duration("scrape_interval", params["scrape_interval"])
    timeout = valid_duration("scrape_timeout", params["scrape_timeout"], "10s")
    if timeout > interval:
        _fail("scrape_timeout", "%s is longer than scrape_interval %s, which Prometheus refuses" % (params["scrape_timeout"], params["scrape_interval"]),
              "Set it to at most scrape_interval.")
    spec.update(scrape_interval=params["scrape_interval"], scrape_timeout=params["scrape_timeout"], endpoint=_endpoint(params, runtime))
    spec["rules"] = bool(params["rules"])
    spec["gpu"] = bool(params["gpu"])
    if not isinstance(params["latency_slo_ms"], (int, float)) or isinstance(params["latency_slo_ms"], bool) or params["latency_slo_ms"] <= 0:
        _fail("latency_slo_ms", "expected milliseconds above 0, got %r" % (params["latency_slo_ms"],), "For example 500.")
    spec["latency_slo_ms"] = float(params["latency_slo_ms"])
    spec["error_ratio"] = _ratio("error_ratio", params["error_ratio"], "0.05 (5 % of requests)")
    spec["gpu_memory_full_ratio"] = _ratio("gpu_memory_full_ratio", params["gpu_memory_full_ratio"], "0.95")
    valid_duration("alert_for", params["alert_for"], "5m")
    valid_duration("pending_for", params["pending_for"], "10m")
    spec.update(alert_for=params["alert_for"], pending_for=params["pending_for"])
    prefix = params["dcgm_label_prefix"] or ""
    if not isinstance(prefix, str) or not _LABEL_PREFIX.match(prefix):
        _fail("dcgm_label_prefix", "%r cannot start a label name" % (prefix,), "Leave it empty, or exported_ where the exporter's labels were not honoured.")
    spec["dcgm_label_prefix"] = prefix
    extra = params["extra_rules"] or []
    if not isinstance(extra, list):
        _fail("extra_rules", "expected a list of rules", "Give a list such as [{alert: ModelDown, expr: 'up == 0'}].")
    spec["extra_rules"] = [_extra_rule(i, r) for i, r in enumerate(extra)]
    records: List[Dict[str, Any]] = []
    alerts: List[Dict[str, Any]] = []
    if spec["rules"]:
        records, alerts = rules.service_rules(runtime, spec)
        for rule in records + alerts:
            # ours too: a runtime fact with a typo is caught here rather than by Prometheus
            check_promql("rules: %s" % (rule.get("record") or rule.get("alert")), rule["expr"])
    spec["recording_rules"], spec["alerting_rules"] = records, alerts
    return spec
