# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Least-privilege objects of one model service: ServiceAccount, Role, RoleBinding and NetworkPolicy.

Each builder takes the spec of stack/access/spec.py (checked, defaults filled in) and the runtime, whose
facts say which pods are the service's and which ports clients and Prometheus call.
"""

from __future__ import annotations

from typing import Any, Dict, List, Union

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.objects import MANAGED_BY

RBAC_API = "rbac.authorization.k8s.io/v1"
NETWORK_API = "networking.k8s.io/v1"
# The label the API server puts on every namespace (since Kubernetes 1.22): its name, which nobody can change.
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
DNS_PORT = 53


def _metadata(spec, name):
    return {"name": name, "namespace": spec["namespace"],
            "labels": {"app.kubernetes.io/instance": spec["name"], "app.kubernetes.io/managed-by": MANAGED_BY}}


def service_account(spec):
    """The account the service's pods run as; no token is mounted unless service_account_token."""
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _metadata(spec, spec["service_account"]),
            "automountServiceAccountToken": spec["service_account_token"]}


def role(spec):
    return {"apiVersion": RBAC_API, "kind": "Role", "metadata": _metadata(spec, spec["name"]),
            "rules": [dict(rule) for rule in spec["rules"]]}


def role_binding(spec):
    return {"apiVersion": RBAC_API, "kind": "RoleBinding", "metadata": _metadata(spec, spec["name"]),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": spec["name"]},
            "subjects": [{"kind": "ServiceAccount", "name": spec["service_account"], "namespace": spec["namespace"]}]}


def _port(spec, runtime, name) -> Union[str, int]:
    """A serving port as a NetworkPolicy names it: the container port's name where the pods name their ports."""
    return name if runtime.named_container_ports else spec["ports"][name]


def _namespace_peer(namespace, pod_labels=None):
    peer: Dict[str, Any] = {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: namespace}}}
    if pod_labels:
        peer["podSelector"] = {"matchLabels": dict(pod_labels)}
    return peer


def _ingress(spec, runtime, policy) -> List[Dict[str, Any]]:
    rules = []
    client_ports = [name for name in runtime.client_ports if name in spec["ports"]]
    if policy["ingress_namespaces"] and client_ports:
        rules.append({"from": [_namespace_peer(namespace) for namespace in policy["ingress_namespaces"]],
                      "ports": [{"protocol": "TCP", "port": _port(spec, runtime, name)} for name in client_ports]})
    if policy["prometheus"]:
        rules.append({"from": [_namespace_peer(policy["prometheus"]["namespace"], policy["prometheus"]["pod_labels"])],
                      "ports": [{"protocol": "TCP", "port": _port(spec, runtime, runtime.metrics[0])}]})
    return rules


def _egress(policy) -> List[Dict[str, Any]]:
    dns = policy["dns"]
    rules = [{"to": [_namespace_peer(dns["namespace"], dns["pod_labels"])],
              "ports": [{"protocol": "UDP", "port": DNS_PORT}, {"protocol": "TCP", "port": DNS_PORT}]}]
    for entry in policy["egress"]:
        block: Dict[str, Any] = {"cidr": entry["cidr"]}
        if entry["exclude"]:
            block["except"] = list(entry["exclude"])
        rules.append({"to": [{"ipBlock": block}], "ports": [{"protocol": entry["protocol"], "port": port} for port in entry["ports"]]})
    return rules


def network_policy(spec, runtime):
    """Ingress to the serving pods only from the ingress namespaces (client ports) and Prometheus (metrics port);
    egress limited to DNS and the given blocks, and only when blocks are given."""
    policy = spec["network_policy"]
    body: Dict[str, Any] = {"podSelector": {"matchLabels": runtime.pod_labels(spec["name"])},
                            "policyTypes": ["Ingress"], "ingress": _ingress(spec, runtime, policy)}
    if policy["egress"]:
        body["policyTypes"].append("Egress")
        body["egress"] = _egress(policy)
    return {"apiVersion": NETWORK_API, "kind": "NetworkPolicy", "metadata": _metadata(spec, spec["name"]), "spec": body}


def build_objects(spec, runtime):
    """Every object the spec asks for, in apply order (the account before the binding that names it)."""
    objects = [service_account(spec)]
    if spec["rules"]:
        objects += [role(spec), role_binding(spec)]
    if spec["network_policy"]:
        objects.append(network_policy(spec, runtime))
    return objects


def all_kinds(spec):
    """(apiVersion, kind, name) of every object the module may write for this service, whatever the options
    ask for now: what state=present takes back when the options stop asking for it."""
    return [("v1", "ServiceAccount", spec["service_account"]), (RBAC_API, "Role", spec["name"]),
            (RBAC_API, "RoleBinding", spec["name"]), (NETWORK_API, "NetworkPolicy", spec["name"])]
