# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The autoscaling spec: every option checked, defaults filled in, before anything is built.

`validate(params)` takes the module's options (a plain dict; missing ones take their defaults) and
returns a complete spec for the builders. A wrong option raises SpecError with its path, what is
wrong and the fix. Nothing here talks to the API (deploy.py checks the cluster: other autoscalers
of the workload, the InferenceService).
"""

from __future__ import annotations

import copy
import re
from typing import Any, Dict, List, NoReturn, Optional

try:
    import promql_parser
    HAS_PROMQL_PARSER = True
except ImportError:  # the module reports the missing library when a query has to be checked
    HAS_PROMQL_PARSER = False

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.errors import MissingLibraryError
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.options import option_defaults
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.validate import DNS_LABEL, DNS_SUBDOMAIN, valid_label_value
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack import runtimes
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.autoscaling import signals
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.autoscaling.options import (
    AUTOSCALING_OPTIONS,
    FALLBACK_BEHAVIORS,
    METRIC_TYPES,
    SIGNALS,
)
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.spec import SpecError, parse_quantity

DEFAULTS: Dict[str, Any] = option_defaults(AUTOSCALING_OPTIONS)
KEDA_DEFAULTS: Dict[str, Any] = option_defaults(AUTOSCALING_OPTIONS["keda"]["options"])
REDIS_DEFAULTS: Dict[str, Any] = option_defaults(AUTOSCALING_OPTIONS["keda"]["options"]["redis"]["options"])
MODIFIER_DEFAULTS: Dict[str, Any] = option_defaults(AUTOSCALING_OPTIONS["keda"]["options"]["scaling_modifiers"]["options"])
FALLBACK_DEFAULTS: Dict[str, Any] = option_defaults(AUTOSCALING_OPTIONS["keda"]["options"]["fallback"]["options"])
SIGNAL_DEFAULTS: Dict[str, Any] = option_defaults(AUTOSCALING_OPTIONS["keda"]["options"]["signals"]["options"])
QUERY_DEFAULTS: Dict[str, Any] = option_defaults(AUTOSCALING_OPTIONS["keda"]["options"]["queries"]["options"])

# The API server's ceiling for a stabilization window (autoscaling/v2 validation).
MAX_STABILIZATION_S = 3600
CPU_EXAMPLE = "{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}}"
HPA_METRIC_TYPES = {"Resource": "resource", "ContainerResource": "containerResource", "Pods": "pods", "Object": "object", "External": "external"}
TARGET_TYPES = ("Utilization", "AverageValue", "Value")
REDIS_TRIGGER = "redis_list"
# Names a KEDA scaling-modifier formula may use besides trigger names (expr-lang operators and built-ins).
FORMULA_WORDS = frozenset((
    "and", "or", "not", "in", "true", "false", "nil", "min", "max", "abs", "ceil", "floor", "round", "int", "float",
    "len", "all", "any", "none", "one", "filter", "map", "count", "sum", "mean", "median", "matches", "contains",
))
_TRIGGER_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ADDRESS = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?:[0-9]{1,5}$")
_URL = re.compile(r"^https?://[^\s/]+(/\S*)?$")

GPU_RESOURCE_FIX = (
    "The HPA reads resource metrics from metrics-server, which reports CPU and memory only: a GPU request is not a "
    "utilisation. Scale on the GPUs' real use from the DCGM exporter instead, either through KEDA's Prometheus trigger "
    "(keda: {prometheus_address: http://prometheus.monitoring:9090, signals: [{name: gpu_utilization, target: 80}]}) "
    "or, with prometheus-adapter serving DCGM_FI_DEV_GPU_UTIL per pod, an HPA Pods metric "
    "({type: Pods, pods: {metric: {name: DCGM_FI_DEV_GPU_UTIL}, target: {type: AverageValue, averageValue: '80'}}})."
)


def _fail(path: str, problem: str, fix: str) -> NoReturn:
    raise SpecError("%s: %s. %s" % (path, problem, fix))


def check_promql(path: str, query: Any) -> str:
    """A query that Prometheus would parse; refused otherwise, with the parser's reason."""
    if not isinstance(query, str) or not query.strip():
        _fail(path, "expected a PromQL query, got %r" % (query,), "Give the query as a string, for example sum(rate(http_requests_total[2m])).")
    if not HAS_PROMQL_PARSER:
        raise MissingLibraryError("%s: checking PromQL needs the promql-parser package. Install it (pip install promql-parser) "
                                  "on the host that runs the module." % path)
    try:
        promql_parser.parse(query)
    except ValueError as exc:
        _fail(path, "the query does not parse (%s): %s" % (exc, query), "Fix the PromQL; try it in the Prometheus UI first.")
    return query


def check_service(params: Dict[str, Any]) -> None:
    """The model service a per-model module is applied to: its name, namespace and runtime (the monitoring
    module checks them the same way)."""
    if not isinstance(params["name"], str) or len(params["name"]) > 63 or not DNS_LABEL.match(params["name"]):
        _fail("name", "%r is not a DNS-1123 label" % (params["name"],), "Give the model service's name, as inference_stack has it.")
    if not isinstance(params["namespace"], str) or not DNS_LABEL.match(params["namespace"]):
        _fail("namespace", "%r is not a namespace name" % (params["namespace"],), "Give the model service's namespace.")
    if params["runtime"] not in runtimes.RUNTIMES:
        _fail("runtime", "unknown runtime %r" % (params["runtime"],), "Use one of %s." % ", ".join(runtimes.RUNTIMES))


def _int(path: str, value: Any, minimum: int, maximum: Optional[int] = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(path, "expected a whole number, got %r" % (value,), "Give a number such as %d." % max(minimum, 1))
    if value < minimum or (maximum is not None and value > maximum):
        _fail(path, "%d is out of range" % value, "Give a number from %d%s." % (minimum, " to %d" % maximum if maximum is not None else " up"))
    return value


def _positive(path: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        _fail(path, "expected a number above 0, got %r" % (value,), "Give the value per pod at which to add replicas, for example 80.")
    return float(value)


def _target(params: Dict[str, Any]) -> Dict[str, str]:
    given = params.get("target") or {}
    name = given.get("name") or params["name"] + runtimes.get(params["runtime"]).workload_suffix
    if not isinstance(name, str) or len(name) > 253 or not DNS_SUBDOMAIN.match(name):
        _fail("target.name", "%r is not an object name" % (name,), "Give the name of the Deployment to scale.")
    return {"apiVersion": given.get("api_version") or "apps/v1", "kind": given.get("kind") or "Deployment", "name": name}


def _stabilization(path: str, behavior: Any, startup_timeout: int, warnings: List[str]) -> Dict[str, Any]:
    """An autoscaling/v2 behavior whose scale-down waits at least startup_timeout (the default window)."""
    if behavior is None:
        behavior = {}
    if not isinstance(behavior, dict) or set(behavior) - {"scaleUp", "scaleDown"}:
        _fail(path, "expected a mapping with scaleUp and/or scaleDown", "Write it as autoscaling/v2 HorizontalPodAutoscalerBehavior.")
    result = copy.deepcopy(behavior)
    down = result.setdefault("scaleDown", {}) or {}
    result["scaleDown"] = down
    floor = min(startup_timeout, MAX_STABILIZATION_S)
    if startup_timeout > MAX_STABILIZATION_S:
        warnings.append("%s.scaleDown.stabilizationWindowSeconds: the API allows at most %d s, shorter than startup_timeout %d s."
                        % (path, MAX_STABILIZATION_S, startup_timeout))
    window = down.get("stabilizationWindowSeconds")
    if window is None:
        down["stabilizationWindowSeconds"] = floor
    elif _int(path + ".scaleDown.stabilizationWindowSeconds", window, 0, MAX_STABILIZATION_S) < floor:
        _fail(path + ".scaleDown.stabilizationWindowSeconds",
              "%d s is shorter than startup_timeout (%d s): a replica removed on a dip is loading its model again when the load "
              "comes back, and a replica still loading counts as idle" % (window, startup_timeout),
              "Leave it out (it defaults to startup_timeout) or set at least %d; lower startup_timeout if the model loads faster." % floor)
    return result


def _hpa_metric(index: int, metric: Any) -> Dict[str, Any]:
    path = "hpa.metrics[%d]" % index
    if not isinstance(metric, dict) or metric.get("type") not in HPA_METRIC_TYPES:
        _fail(path + ".type", "expected one of %s, got %r" % (", ".join(HPA_METRIC_TYPES), (metric or {}).get("type") if isinstance(metric, dict) else metric),
              "Write each metric as autoscaling/v2 MetricSpec, for example %s." % CPU_EXAMPLE)
    key = HPA_METRIC_TYPES[metric["type"]]
    block = metric.get(key)
    if not isinstance(block, dict):
        _fail("%s.%s" % (path, key), "a %s metric needs its %s block" % (metric["type"], key), "Add %s: {...} as autoscaling/v2 writes it." % key)
    if key in ("resource", "containerResource"):
        name = block.get("name")
        if isinstance(name, str) and name.startswith("nvidia.com/"):
            _fail("%s.%s.name" % (path, key), "%s is not a metric the HPA can read" % name, GPU_RESOURCE_FIX)
        if name not in ("cpu", "memory"):
            _fail("%s.%s.name" % (path, key), "expected cpu or memory, got %r" % (name,), "metrics-server reports cpu and memory only.")
    else:
        name = (block.get("metric") or {}).get("name") if isinstance(block.get("metric"), dict) else None
        if not isinstance(name, str) or not name:
            _fail("%s.%s.metric.name" % (path, key), "a %s metric needs the metric's name" % metric["type"],
                  "Add metric: {name: inference_requests_per_second} (the name your metrics adapter serves).")
    if key == "object":
        described = block.get("describedObject") or {}
        if not all(isinstance(described.get(f), str) and described.get(f) for f in ("apiVersion", "kind", "name")):
            _fail(path + ".object.describedObject", "an Object metric needs the object it describes",
                  "Add describedObject: {apiVersion: v1, kind: Service, name: <service>}.")
    target = block.get("target")
    if not isinstance(target, dict) or target.get("type") not in TARGET_TYPES:
        _fail("%s.%s.target.type" % (path, key), "expected one of %s" % ", ".join(TARGET_TYPES), "Add target: {type: AverageValue, averageValue: '100'}.")
    kind = target["type"]
    if kind == "Utilization":
        if key not in ("resource", "containerResource"):
            _fail("%s.%s.target.type" % (path, key), "Utilization applies to cpu and memory only", "Use AverageValue or Value.")
        _int("%s.%s.target.averageUtilization" % (path, key), target.get("averageUtilization"), 1)
    else:
        field = "averageValue" if kind == "AverageValue" else "value"
        if key == "pods" and kind != "AverageValue":
            _fail("%s.pods.target.type" % path, "a Pods metric is averaged over the pods", "Use type AverageValue with averageValue.")
        if target.get(field) is None:
            _fail("%s.%s.target.%s" % (path, key, field), "a %s target needs %s" % (kind, field), "Add %s: '100'." % field)
        parse_quantity("%s.%s.target.%s" % (path, key, field), target[field])
        target = dict(target, **{field: str(target[field])})
    return dict(metric, **{key: dict(block, target=target)})


def _hpa(params: Dict[str, Any], spec: Dict[str, Any], warnings: List[str]) -> Dict[str, Any]:
    hpa = params["hpa"]
    if spec["min_replicas"] == 0:
        _fail("min_replicas", "an HPA cannot scale to zero (only behind the alpha HPAScaleToZero feature gate)",
              "Set min_replicas to 1 or more, or use keda with allow_scale_to_zero.")
    metrics = hpa.get("metrics")
    if not isinstance(metrics, list) or not metrics:
        _fail("hpa.metrics", "give at least one metric", "For example [%s]." % CPU_EXAMPLE)
    return {
        "metrics": [_hpa_metric(i, m) for i, m in enumerate(metrics)],
        "behavior": _stabilization("hpa.behavior", hpa.get("behavior"), spec["startup_timeout"], warnings),
    }


def _triggers(keda: Dict[str, Any], spec: Dict[str, Any], runtime) -> List[Dict[str, Any]]:
    """Prometheus triggers, from signals and queries: {name, query, threshold, activation_threshold, metric_type}."""
    triggers: List[Dict[str, Any]] = []
    for index, given in enumerate(keda["signals"] or []):
        signal = dict(SIGNAL_DEFAULTS, **{k: v for k, v in given.items() if v is not None})
        if signal["name"] not in SIGNALS:
            _fail("keda.signals[%d].name" % index, "unknown signal %r" % (signal["name"],), "Use one of %s." % ", ".join(SIGNALS))
        query, metric_type = signals.query(signal["name"], runtime, spec["namespace"], spec["target"]["name"], spec["model_name"],
                                           keda["dcgm_label_prefix"] or "")
        triggers.append({"name": signal["name"], "query": check_promql("keda.signals[%d]" % index, query),
                         "threshold": _positive("keda.signals[%d].target" % index, signal["target"]),
                         "activation_threshold": signal["activation_target"], "metric_type": metric_type})
    for index, given in enumerate(keda["queries"] or []):
        own = dict(QUERY_DEFAULTS, **{k: v for k, v in given.items() if v is not None})
        path = "keda.queries[%d]" % index
        if not isinstance(own["name"], str) or not _TRIGGER_NAME.match(own["name"]):
            _fail(path + ".name", "%r is not a trigger name" % (own["name"],),
                  "Use lower-case letters, digits and '_', starting with a letter (a scaling-modifier formula refers to it).")
        if own["metric_type"] not in METRIC_TYPES:
            _fail(path + ".metric_type", "expected AverageValue or Value", "AverageValue divides the result by the replicas; Value does not.")
        triggers.append({"name": own["name"], "query": check_promql(path + ".query", own["query"]),
                         "threshold": _positive(path + ".threshold", own["threshold"]),
                         "activation_threshold": own["activation_threshold"], "metric_type": own["metric_type"]})
    if triggers and not (isinstance(keda["prometheus_address"], str) and _URL.match(keda["prometheus_address"])):
        _fail("keda.prometheus_address", "Prometheus triggers need the server's URL, got %r" % (keda["prometheus_address"],),
              "Give it, for example http://prometheus-operated.monitoring.svc:9090.")
    for trigger in triggers:
        if trigger["activation_threshold"] is not None and trigger["activation_threshold"] < 0:
            _fail("keda: %s activation" % trigger["name"], "an activation value below 0 never deactivates", "Give 0 or more.")
    return triggers


def _redis(given: Optional[Dict[str, Any]], names: List[str]) -> Optional[Dict[str, Any]]:
    if not given:
        return None
    redis = dict(REDIS_DEFAULTS, **{k: v for k, v in given.items() if v is not None})
    if redis["password"] is not None:
        # the value is never repeated: it would land in the log
        _fail("keda.redis.password", "an inline password would be stored in the ScaledObject for anyone who can read it",
              "Put it in a Secret and name it: keda.redis.password_secret: {name: redis-auth, key: password}; the module "
              "references it through a TriggerAuthentication.")
    if not isinstance(redis["address"], str) or not _ADDRESS.match(redis["address"]):
        _fail("keda.redis.address", "%r is not HOST:PORT" % (redis["address"],), "For example redis.queue.svc:6379.")
    if not isinstance(redis["list_name"], str) or not redis["list_name"]:
        _fail("keda.redis.list_name", "the list to watch is missing", "Give the Redis list that holds the waiting requests.")
    _int("keda.redis.list_length", redis["list_length"], 1)
    if redis["activation_list_length"] is not None:
        _int("keda.redis.activation_list_length", redis["activation_list_length"], 0)
    if redis["database_index"] is not None:
        _int("keda.redis.database_index", redis["database_index"], 0)
    secret = redis["password_secret"]
    if secret is not None:
        secret = dict(secret, key=secret.get("key") or "password")
        if not isinstance(secret.get("name"), str) or not DNS_SUBDOMAIN.match(secret["name"]):
            _fail("keda.redis.password_secret.name", "%r is not a Secret name" % (secret.get("name"),), "Give the Secret's name in the namespace.")
    redis["password_secret"] = secret
    names.append(REDIS_TRIGGER)
    return redis


def _modifiers(given: Optional[Dict[str, Any]], names: List[str]) -> Optional[Dict[str, Any]]:
    if not given:
        return None
    modifiers = dict(MODIFIER_DEFAULTS, **{k: v for k, v in given.items() if v is not None})
    formula = modifiers["formula"]
    if not isinstance(formula, str) or not formula.strip():
        _fail("keda.scaling_modifiers.formula", "the formula is empty", "Combine trigger names, for example "
              "'gpu_utilization > 80 && queue_time_ms > 50 ? 2 : 1'.")
    unknown = sorted({w for w in _IDENTIFIER.findall(re.sub(r"'[^']*'|\"[^\"]*\"", "", formula))
                      if w not in names and w not in FORMULA_WORDS})
    if unknown:
        _fail("keda.scaling_modifiers.formula", "%s is not a trigger of this ScaledObject" % ", ".join(unknown),
              "Use the trigger names: %s." % ", ".join(names))
    _positive("keda.scaling_modifiers.target", modifiers["target"])
    return modifiers


def _keda(params: Dict[str, Any], spec: Dict[str, Any], warnings: List[str]) -> Dict[str, Any]:
    keda = dict(KEDA_DEFAULTS, **{k: v for k, v in params["keda"].items() if v is not None})
    runtime = runtimes.get(spec["runtime"])
    triggers = _triggers(keda, spec, runtime)
    names = [t["name"] for t in triggers]
    redis = _redis(keda["redis"], names)
    if not names:
        _fail("keda", "no trigger", "Give keda.signals, keda.queries or keda.redis.")
    if len(set(names)) != len(names):
        _fail("keda", "two triggers are named %s" % ", ".join(sorted({n for n in names if names.count(n) > 1})),
              "Give each query a name of its own (signal names and %s are taken)." % REDIS_TRIGGER)
    startup = spec["startup_timeout"]
    cooldown = keda["cooldown_period"]
    if cooldown is None:
        cooldown = startup
    elif _int("keda.cooldown_period", cooldown, 0) < startup:
        _fail("keda.cooldown_period", "%d s is shorter than startup_timeout (%d s): the last replica goes while a new one may "
              "still be loading its model" % (cooldown, startup),
              "Leave it out (it defaults to startup_timeout) or set at least %d; lower startup_timeout if the model loads faster." % startup)
    fallback = dict(FALLBACK_DEFAULTS, **{k: v for k, v in (keda["fallback"] or {}).items() if v is not None})
    if fallback["replicas"] is None:
        fallback["replicas"] = max(spec["min_replicas"], 1)
    _int("keda.fallback.replicas", fallback["replicas"], 1, spec["max_replicas"])
    _int("keda.fallback.failure_threshold", fallback["failure_threshold"], 1)
    if fallback["behavior"] not in FALLBACK_BEHAVIORS:
        _fail("keda.fallback.behavior", "expected one of %s" % ", ".join(FALLBACK_BEHAVIORS), "The default currentReplicasIfHigher keeps what runs.")
    return {
        "polling_interval": _int("keda.polling_interval", keda["polling_interval"], 1),
        "cooldown_period": cooldown,
        "prometheus_address": keda["prometheus_address"],
        "triggers": triggers,
        "redis": redis,
        "scaling_modifiers": _modifiers(keda["scaling_modifiers"], names),
        "fallback": fallback,
        "behavior": _stabilization("keda.behavior", keda["behavior"], startup, warnings),
    }


def validate(params: Dict[str, Any]) -> Dict[str, Any]:
    """The complete spec, with `warnings` for what is allowed but risky; raises SpecError before anything is written."""
    params = dict(DEFAULTS, **{k: v for k, v in params.items() if v is not None or k not in DEFAULTS})
    state = params.get("state") or "present"
    check_service(params)
    labels = {key: valid_label_value("labels.%s" % key, value) for key, value in (params["labels"] or {}).items()}
    spec: Dict[str, Any] = {
        "name": params["name"], "namespace": params["namespace"], "runtime": params["runtime"],
        "model_name": params["model_name"] or params["name"],
        "target": _target(params),
        "labels": labels, "warnings": [], "autoscaler": None, "hpa": None, "keda": None,
    }
    if params["hpa"] and params["keda"]:
        _fail("hpa", "given with keda: an HPA and a KEDA ScaledObject would both scale %s (KEDA makes an HPA of its own), and fight"
              % spec["target"]["name"], "Give hpa or keda, not both.")
    if state == "absent":
        return spec
    if not params["hpa"] and not params["keda"]:
        _fail("hpa", "no autoscaler given, neither hpa nor keda", "Give hpa (metrics for an autoscaling/v2 HPA) or keda (signals, queries or redis).")
    spec["startup_timeout"] = _int("startup_timeout", params["startup_timeout"], 1)
    if params["max_replicas"] is None:
        _fail("max_replicas", "missing", "Give the most replicas the service may have, for example the GPUs it may take.")
    spec["max_replicas"] = _int("max_replicas", params["max_replicas"], 1)
    spec["min_replicas"] = _int("min_replicas", params["min_replicas"], 0)
    if spec["min_replicas"] > spec["max_replicas"]:
        _fail("min_replicas", "%d is above max_replicas %d" % (spec["min_replicas"], spec["max_replicas"]),
              "Set min_replicas to at most max_replicas.")
    if spec["min_replicas"] == 0 and params["hpa"] is None:
        if not params["allow_scale_to_zero"]:
            _fail("min_replicas", "0 scales the service to zero: the first request after idle waits for a GPU node, the image "
                  "and the model to load (up to startup_timeout, %d s)" % spec["startup_timeout"],
                  "Set min_replicas to 1 or more, or set allow_scale_to_zero: true to accept cold starts.")
        spec["warnings"].append("min_replicas: 0 with allow_scale_to_zero: after idle, the first requests wait for a cold start "
                                "(GPU scheduling, image pull, model load: up to %d s)." % spec["startup_timeout"])
    if params["hpa"]:
        spec["autoscaler"] = "hpa"
        spec["hpa"] = _hpa(params, spec, spec["warnings"])
    else:
        spec["autoscaler"] = "keda"
        spec["keda"] = _keda(params, spec, spec["warnings"])
    return spec
