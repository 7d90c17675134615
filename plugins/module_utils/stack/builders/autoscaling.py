# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Autoscaling objects of one model service, as plain dicts: an autoscaling/v2 HorizontalPodAutoscaler, or a
KEDA ScaledObject (and the TriggerAuthentication of its Redis password), and the InferenceService annotation
that turns KServe's own autoscaler off. The spec comes from stack/autoscaling/spec.py, checked and complete.
"""

from __future__ import annotations

from typing import Any, Dict, List

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.objects import MANAGED_BY

HPA_API_VERSION = "autoscaling/v2"
KEDA_API_VERSION = "keda.sh/v1alpha1"
KSERVE_API_VERSION = "serving.kserve.io/v1beta1"
COMPONENT = "autoscaler"
# KServe (pkg/constants): "external" makes KServe delete the HPA it made for the predictor, make none, and leave
# the Deployment's replicas to whoever scales it.
KSERVE_AUTOSCALER_CLASS = "serving.kserve.io/autoscalerClass"
KSERVE_EXTERNAL = "external"


def _number(value: float) -> str:
    """A threshold as KEDA reads it, a string: 80.0 -> '80', 0.5 -> '0.5'."""
    return ("%f" % value).rstrip("0").rstrip(".")


def _metadata(spec: Dict[str, Any], name: str) -> Dict[str, Any]:
    labels = dict(spec["labels"])
    labels.update({"app.kubernetes.io/instance": spec["name"], "app.kubernetes.io/component": COMPONENT,
                   "app.kubernetes.io/managed-by": MANAGED_BY})
    return {"name": name, "namespace": spec["namespace"], "labels": labels}


def auth_name(spec: Dict[str, Any]) -> str:
    return "%s-redis" % spec["name"]


def _scaler(spec: Dict[str, Any], api_version: str, kind: str, body: Dict[str, Any]) -> Dict[str, Any]:
    """An autoscaler of the spec's target, named after the service."""
    return {"apiVersion": api_version, "kind": kind, "metadata": _metadata(spec, spec["name"]),
            "spec": dict({"scaleTargetRef": dict(spec["target"])}, **body)}


def hpa(spec: Dict[str, Any]) -> Dict[str, Any]:
    return _scaler(spec, HPA_API_VERSION, "HorizontalPodAutoscaler", {
        "minReplicas": spec["min_replicas"],
        "maxReplicas": spec["max_replicas"],
        "metrics": spec["hpa"]["metrics"],
        "behavior": spec["hpa"]["behavior"],
    })


def _prometheus_trigger(keda: Dict[str, Any], trigger: Dict[str, Any]) -> Dict[str, Any]:
    metadata = {
        "serverAddress": keda["prometheus_address"],
        "query": trigger["query"],
        "threshold": _number(trigger["threshold"]),
        # KEDA's default (true) reads an empty result as 0, so a broken scrape would scale the service down
        "ignoreNullValues": "false",
    }
    if trigger["activation_threshold"] is not None:
        metadata["activationThreshold"] = _number(trigger["activation_threshold"])
    return {"type": "prometheus", "name": trigger["name"], "metricType": trigger["metric_type"], "metadata": metadata}


def _redis_trigger(spec: Dict[str, Any], redis: Dict[str, Any]) -> Dict[str, Any]:
    metadata = {"address": redis["address"], "listName": redis["list_name"], "listLength": str(redis["list_length"])}
    if redis["activation_list_length"] is not None:
        metadata["activationListLength"] = str(redis["activation_list_length"])
    if redis["database_index"] is not None:
        metadata["databaseIndex"] = str(redis["database_index"])
    if redis["enable_tls"]:
        metadata["enableTLS"] = "true"
    trigger: Dict[str, Any] = {"type": "redis", "name": "redis_list", "metadata": metadata}
    if redis["password_secret"]:
        trigger["authenticationRef"] = {"name": auth_name(spec)}
    return trigger


def scaled_object(spec: Dict[str, Any]) -> Dict[str, Any]:
    keda = spec["keda"]
    triggers: List[Dict[str, Any]] = [_prometheus_trigger(keda, t) for t in keda["triggers"]]
    if keda["redis"]:
        triggers.append(_redis_trigger(spec, keda["redis"]))
    advanced: Dict[str, Any] = {"horizontalPodAutoscalerConfig": {"behavior": keda["behavior"]}}
    modifiers = keda["scaling_modifiers"]
    if modifiers:
        advanced["scalingModifiers"] = {"formula": modifiers["formula"], "target": _number(modifiers["target"]),
                                        "metricType": modifiers["metric_type"]}
        if modifiers["activation_target"] is not None:
            advanced["scalingModifiers"]["activationTarget"] = _number(modifiers["activation_target"])
    fallback = keda["fallback"]
    return _scaler(spec, KEDA_API_VERSION, "ScaledObject", {
        "minReplicaCount": spec["min_replicas"],
        "maxReplicaCount": spec["max_replicas"],
        "pollingInterval": keda["polling_interval"],
        "cooldownPeriod": keda["cooldown_period"],
        "fallback": {"failureThreshold": fallback["failure_threshold"], "replicas": fallback["replicas"], "behavior": fallback["behavior"]},
        "advanced": advanced,
        "triggers": triggers,
    })


def trigger_authentication(spec: Dict[str, Any]) -> Dict[str, Any]:
    secret = spec["keda"]["redis"]["password_secret"]
    return {
        "apiVersion": KEDA_API_VERSION,
        "kind": "TriggerAuthentication",
        "metadata": _metadata(spec, auth_name(spec)),
        "spec": {"secretTargetRef": [{"parameter": "password", "name": secret["name"], "key": secret["key"]}]},
    }


def kserve_annotation(spec: Dict[str, Any]) -> Dict[str, Any]:
    """Only the annotation, for a server-side apply under this module's own field manager: the stack's
    fields stay the stack's."""
    return {"apiVersion": KSERVE_API_VERSION, "kind": "InferenceService",
            "metadata": {"name": spec["name"], "namespace": spec["namespace"], "annotations": {KSERVE_AUTOSCALER_CLASS: KSERVE_EXTERNAL}}}


def objects(spec: Dict[str, Any]) -> List[Dict[str, Any]]:
    """This module's objects for the spec's autoscaler, in apply order (the Secret reference before its user)."""
    if spec["autoscaler"] == "hpa":
        return [hpa(spec)]
    result = []
    if spec["keda"]["redis"] and spec["keda"]["redis"]["password_secret"]:
        result.append(trigger_authentication(spec))
    return result + [scaled_object(spec)]


def all_kinds(spec: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Every object this module may have written for the service, as bare references (for removal and switching)."""
    refs = [(HPA_API_VERSION, "HorizontalPodAutoscaler", spec["name"]), (KEDA_API_VERSION, "ScaledObject", spec["name"]),
            (KEDA_API_VERSION, "TriggerAuthentication", auth_name(spec))]
    return [{"apiVersion": a, "kind": k, "metadata": {"name": n, "namespace": spec["namespace"]}} for a, k, n in refs]
