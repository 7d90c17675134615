# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Monitoring objects of one model service, as plain dicts: the prometheus-operator ServiceMonitor (or PodMonitor)
on the runtime's metrics endpoint, and the PrometheusRule of its recording and alerting rules. The spec comes
from stack/monitoring/spec.py, checked and complete.
"""

from __future__ import annotations

from typing import Any, Dict, List

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.objects import MANAGED_BY
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack import runtimes
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.builders.common import instance_labels

API_VERSION = "monitoring.coreos.com/v1"
COMPONENT = "monitoring"
KINDS = ("ServiceMonitor", "PodMonitor", "PrometheusRule")


def _metadata(spec: Dict[str, Any]) -> Dict[str, Any]:
    labels = dict(spec["labels"])
    labels.update(spec["prometheus_labels"])
    labels.update({"app.kubernetes.io/instance": spec["name"], "app.kubernetes.io/component": COMPONENT,
                   "app.kubernetes.io/managed-by": MANAGED_BY})
    return {"name": spec["name"], "namespace": spec["namespace"], "labels": labels}


def _endpoint(spec: Dict[str, Any]) -> Dict[str, Any]:
    given = spec["endpoint"]
    endpoint: Dict[str, Any] = {"portNumber": given["port_number"]} if "port_number" in given else {"port": given["port"]}
    endpoint.update({
        "path": given["path"],
        "interval": spec["scrape_interval"],
        "scrapeTimeout": spec["scrape_timeout"],
        # The runtimes' series name their model, not their pod: the target's namespace and pod labels are
        # the attribution the rules and the autoscaling signals select by, so they win over the server's.
        "honorLabels": False,
    })
    return endpoint


def monitor(spec: Dict[str, Any]) -> Dict[str, Any]:
    """The ServiceMonitor on the stack's Service (selected by its instance labels), or the PodMonitor on the pods."""
    runtime = runtimes.get(spec["runtime"])
    kind = spec["endpoint"]["kind"]
    body: Dict[str, Any] = {"namespaceSelector": {"matchNames": [spec["namespace"]]}}
    if kind == "ServiceMonitor":
        body.update(selector={"matchLabels": instance_labels(spec["name"])}, endpoints=[_endpoint(spec)])
    else:
        body.update(selector={"matchLabels": runtime.pod_labels(spec["name"])}, podMetricsEndpoints=[_endpoint(spec)])
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": _metadata(spec), "spec": body}


def rule_groups(spec: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The rule groups, as a Prometheus rules file has them (promtool reads the same)."""
    groups = []
    ours = spec["recording_rules"] + spec["alerting_rules"]
    if ours:
        groups.append({"name": "inferops.%s.%s" % (spec["namespace"], spec["name"]), "rules": ours})
    if spec["extra_rules"]:
        groups.append({"name": "inferops.%s.%s.extra" % (spec["namespace"], spec["name"]), "rules": spec["extra_rules"]})
    return groups


def prometheus_rule(spec: Dict[str, Any]) -> Dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": "PrometheusRule", "metadata": _metadata(spec), "spec": {"groups": rule_groups(spec)}}


def objects(spec: Dict[str, Any]) -> List[Dict[str, Any]]:
    """This module's objects, in apply order."""
    result = [monitor(spec)]
    if rule_groups(spec):
        result.append(prometheus_rule(spec))
    return result


def all_kinds(spec: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Every object this module may have written for the service, as bare references (for removal and stale ones)."""
    return [{"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": spec["name"], "namespace": spec["namespace"]}} for kind in KINDS]
