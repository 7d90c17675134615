# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inference_access spec: every option checked, defaults filled in, before anything is built.

`validate(params)` takes the module's options (a plain dict; missing ones take their defaults) and returns
the complete spec the builders read. A wrong input raises SpecError naming the option, the problem and the
fix. RBAC rules are held to least privilege here: no wildcard unless rbac.allow_wildcards, no verb the
API does not know, no rule that grants nothing.
"""

from __future__ import annotations

import copy
import ipaddress
import re
from typing import Any, Dict, List, Optional

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.options import option_defaults
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.validate import DNS_SUBDOMAIN, with_defaults
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack import runtimes as rt
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.access.options import ACCESS_OPTIONS
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.spec import SpecError, _fail, _labels, _mapping, _name, _ports

DEFAULTS: Dict[str, Any] = option_defaults(ACCESS_OPTIONS)
RBAC_DEFAULTS: Dict[str, Any] = option_defaults(ACCESS_OPTIONS["rbac"]["options"])
NETWORK_DEFAULTS: Dict[str, Any] = option_defaults(ACCESS_OPTIONS["network_policy"]["options"])
EGRESS_DEFAULTS: Dict[str, Any] = option_defaults(ACCESS_OPTIONS["network_policy"]["options"]["egress"]["options"])
RULE_FIELDS = tuple(ACCESS_OPTIONS["rbac"]["options"]["rules"]["options"])
PROTOCOLS = tuple(ACCESS_OPTIONS["network_policy"]["options"]["egress"]["options"]["protocol"]["choices"])

# The verbs the API server's authorizers check: the resource verbs, and the special ones that RBAC itself,
# impersonation, certificate signing and admission policies ask about.
VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection",
         "bind", "escalate", "impersonate", "use", "approve", "sign", "attest")

# What each preset grants: the reads a workload needs to find its peers (the source document's get, list and
# watch on pods and services), nothing more.
PRESETS: Dict[str, List[Dict[str, List[str]]]] = {
    "read_pods_and_services": [{"apiGroups": [""], "resources": ["pods", "services"], "verbs": ["get", "list", "watch"]}],
}

# resources as RBAC names them: a lower-case plural, optionally /subresource
_RESOURCE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(/[a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$")


def _strings(path, value, example, allow_empty_items=False):
    if value is None:
        return []
    if not isinstance(value, list):
        _fail(path, "expected a list, got %s" % type(value).__name__, "For example %s." % example)
    for index, item in enumerate(value):
        if not isinstance(item, str) or (not item and not allow_empty_items):
            _fail("%s[%d]" % (path, index), "expected a non-empty string, got %r" % (item,), "For example %s; quote it in YAML." % example)
    return list(value)


def _no_wildcard(path, values, allow_wildcards, fix):
    for index, value in enumerate(values):
        if "*" in value and not allow_wildcards:
            _fail("%s[%d]" % (path, index), "%r is a wildcard, which grants whatever exists now and whatever is added later" % value,
                  "%s, or set allow_wildcards: true in rbac if the workload truly needs all of them." % fix)


def _rule(index: int, value: Any, allow_wildcards: bool) -> Dict[str, List[str]]:
    path = "rbac.rules[%d]" % index
    rule = _mapping(path, value, RULE_FIELDS, "{api_groups: [''], resources: [pods], verbs: [get, list]}")
    if not rule.get("resources") or not rule.get("verbs"):
        _fail(path, "an empty rule grants nothing (it needs resources and verbs)",
              "Give api_groups, resources and verbs, for example {api_groups: [''], resources: [pods], verbs: [get, list]}, "
              "or remove the rule.")
    if "api_groups" not in rule:
        _fail(path + ".api_groups", "missing: a rule without API groups matches no resource",
              "Give [''] for the core group (pods, services, configmaps), [apps] for deployments.")
    groups = _strings(path + ".api_groups", rule["api_groups"], "[''] or [apps]", allow_empty_items=True)
    if not groups:
        _fail(path + ".api_groups", "an empty list matches no resource", "Give [''] for the core group, [apps] for deployments.")
    _no_wildcard(path + ".api_groups", groups, allow_wildcards, "Name the API groups, for example [''] or [apps]")
    for position, group in enumerate(groups):
        if group and group != "*" and (len(group) > 253 or not DNS_SUBDOMAIN.match(group)):
            _fail("%s.api_groups[%d]" % (path, position), "%r is not an API group" % group,
                  "Give the group without its version, for example apps (not apps/v1), or '' for the core group.")
    resources = _strings(path + ".resources", rule["resources"], "[pods, services]")
    _no_wildcard(path + ".resources", resources, allow_wildcards, "Name the resources, for example [pods, services]")
    for position, resource in enumerate(resources):
        if "*" not in resource and not _RESOURCE.match(resource):
            _fail("%s.resources[%d]" % (path, position), "%r is not a resource name as RBAC spells it" % resource,
                  "Use the lower-case plural, optionally with a subresource, for example pods or pods/log (not Pod).")
    verbs = _strings(path + ".verbs", rule["verbs"], "[get, list, watch]")
    _no_wildcard(path + ".verbs", verbs, allow_wildcards, "List the verbs the workload needs, for example [get, list, watch]")
    for position, verb in enumerate(verbs):
        if verb != "*" and verb not in VERBS:
            _fail("%s.verbs[%d]" % (path, position), "%r is not a verb the API server authorizes" % verb,
                  "Use %s." % ", ".join(VERBS))
    checked = {"apiGroups": groups, "resources": resources, "verbs": verbs}
    names = _strings(path + ".resource_names", rule.get("resource_names"), "[my-config]")
    if names:
        checked["resourceNames"] = names
    return checked


def _rbac(value: Any) -> List[Dict[str, List[str]]]:
    rbac = with_defaults(_mapping("rbac", value, sorted(RBAC_DEFAULTS), "{presets: [read_pods_and_services]}"),
                         copy.deepcopy(RBAC_DEFAULTS), "rbac")
    rules: List[Dict[str, List[str]]] = []
    for index, preset in enumerate(rbac["presets"] or []):
        if preset not in PRESETS:
            _fail("rbac.presets[%d]" % index, "unknown preset %r" % (preset,), "Use %s, or give rules." % ", ".join(sorted(PRESETS)))
        rules.extend(copy.deepcopy(PRESETS[preset]))
    if not isinstance(rbac["rules"], list):
        _fail("rbac.rules", "expected a list of rules, got %s" % type(rbac["rules"]).__name__,
              "For example [{api_groups: [''], resources: [pods], verbs: [get]}].")
    rules.extend(_rule(index, rule, bool(rbac["allow_wildcards"])) for index, rule in enumerate(rbac["rules"]))
    return rules


def _port(path, value):
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        _fail(path, "%r is not a port number" % (value,), "Give a port from 1 to 65535, for example 443.")
    return value


def _network(cidr: Any, path: str) -> Any:
    if not isinstance(cidr, str) or "/" not in cidr:
        _fail(path, "%r is not a CIDR" % (cidr,), "Give an address block with its prefix length, for example 10.0.12.0/24 or 2001:db8::/64.")
    try:
        return ipaddress.ip_network(cidr, strict=True)
    except ValueError as exc:
        try:
            network = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            _fail(path, "%r is not a CIDR (%s)" % (cidr, exc), "Give an address block with its prefix length, for example 10.0.12.0/24.")
        _fail(path, "%s has host bits set" % cidr, "Give the block's network address: %s." % network)
    return None


def _egress(index: int, value: Any) -> Dict[str, Any]:
    path = "network_policy.egress[%d]" % index
    entry = with_defaults(_mapping(path, value, sorted(EGRESS_DEFAULTS), "{cidr: 10.0.12.0/24, ports: [443]}"),
                          copy.deepcopy(EGRESS_DEFAULTS), path)
    if entry["cidr"] is None:
        _fail(path + ".cidr", "missing", "Give the model store's address block, for example 10.0.12.0/24.")
    network = _network(entry["cidr"], path + ".cidr")
    excluded = []
    for position, cidr in enumerate(entry["exclude"] or []):
        inner = _network(cidr, "%s.exclude[%d]" % (path, position))
        if inner.version != network.version or not inner.subnet_of(network) or inner == network:
            _fail("%s.exclude[%d]" % (path, position), "%s is not a smaller block inside %s" % (cidr, entry["cidr"]),
                  "Exclude only part of the cidr, or remove it.")
        excluded.append(str(inner))
    ports = entry["ports"]
    if not isinstance(ports, list) or not ports:
        _fail(path + ".ports", "expected a non-empty list of ports, got %r" % (ports,), "For example [443] for an HTTPS object store.")
    if entry["protocol"] not in PROTOCOLS:
        _fail(path + ".protocol", "%r is not a protocol" % (entry["protocol"],), "Use %s." % ", ".join(PROTOCOLS))
    return {"cidr": str(network), "exclude": excluded,
            "ports": [_port("%s.ports[%d]" % (path, position), port) for position, port in enumerate(ports)],
            "protocol": entry["protocol"]}


def _network_policy(runtime, value: Any) -> Optional[Dict[str, Any]]:
    policy = with_defaults(_mapping("network_policy", value, sorted(NETWORK_DEFAULTS), "{ingress_namespaces: [ingress-nginx]}"),
                           copy.deepcopy(NETWORK_DEFAULTS), "network_policy")
    if not policy["enabled"]:
        return None
    namespaces = policy["ingress_namespaces"]
    if not isinstance(namespaces, list):
        _fail("network_policy.ingress_namespaces", "expected a list of namespaces, got %s" % type(namespaces).__name__,
              "For example [ingress-nginx].")
    prometheus = None
    if policy["prometheus_namespace"] and runtime.metrics:
        prometheus = {"namespace": _name("network_policy.prometheus_namespace", policy["prometheus_namespace"]),
                      "pod_labels": _labels("network_policy.prometheus_pod_labels", policy["prometheus_pod_labels"] or {},
                                            "{app.kubernetes.io/name: prometheus}")}
    return {
        "ingress_namespaces": [_name("network_policy.ingress_namespaces[%d]" % index, namespace)
                               for index, namespace in enumerate(namespaces)],
        "prometheus": prometheus,
        "dns": {"namespace": _name("network_policy.dns_namespace", policy["dns_namespace"]),
                "pod_labels": _labels("network_policy.dns_pod_labels", policy["dns_pod_labels"] or {}, "{k8s-app: kube-dns}")},
        "egress": [_egress(index, entry) for index, entry in enumerate(policy["egress"] or [])],
    }


def validate(params: Dict[str, Any]) -> Dict[str, Any]:
    """The complete spec from the module's options; raises SpecError naming the first wrong one."""
    merged = with_defaults(params, DEFAULTS, "inference access")
    if merged["runtime"] not in rt.RUNTIMES:
        _fail("runtime", "unknown runtime %r" % (merged["runtime"],), "Use one of %s." % ", ".join(rt.RUNTIMES))
    runtime = rt.get(merged["runtime"])
    name = _name("name", merged["name"])
    account = merged["service_account"] or name
    if not isinstance(account, str) or len(account) > 253 or not DNS_SUBDOMAIN.match(account):
        _fail("service_account", "%r is not a valid ServiceAccount name" % (account,),
              "Use lower-case letters, digits, '-' and '.', for example %s." % name)
    if not isinstance(merged["service_account_token"], bool):
        _fail("service_account_token", "expected true or false, got %r" % (merged["service_account_token"],), "Give true or false.")
    return {
        "name": name,
        "namespace": _name("namespace", merged["namespace"]),
        "runtime": runtime.name,
        "ports": _ports(runtime, merged["ports"], None),
        "service_account": account,
        "service_account_token": merged["service_account_token"],
        "rules": _rbac(merged["rbac"]),
        "network_policy": _network_policy(runtime, merged["network_policy"]),
    }


__all__ = ["DEFAULTS", "PRESETS", "SpecError", "VERBS", "validate"]
