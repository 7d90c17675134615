# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inference_ingress spec: every option checked, defaults filled in, before anything is built.

`validate(params)` takes the module's options (a plain dict; missing ones take their defaults) and
returns the complete spec the builders read. A wrong option raises SpecError naming it and the fix.
PEM files are read and checked by deploy.py (certificates.check_pem), still before anything is written.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Dict, List, NoReturn, Optional

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.options import option_defaults
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.validate import (
    DNS_LABEL,
    DNS_SUBDOMAIN,
    qualified_name_problem,
    valid_label_value,
)
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack import runtimes as rt
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.ingress import options
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.spec import SpecError

DEFAULTS: Dict[str, Any] = option_defaults(options.ARGUMENT_SPEC)
INGRESS_DEFAULTS = option_defaults(options.TRAFFIC_OPTIONS["ingress"]["options"])
GATEWAY_DEFAULTS = option_defaults(options.TRAFFIC_OPTIONS["gateway"]["options"])
TLS_DEFAULTS = option_defaults(options.TRAFFIC_OPTIONS["tls"]["options"])
ISSUER_DEFAULTS = option_defaults(options.TRAFFIC_OPTIONS["tls"]["options"]["issuer"]["options"])

# The annotation the Ingress API replaced with spec.ingressClassName (networking.k8s.io/v1).
CLASS_ANNOTATION = "kubernetes.io/ingress.class"
# ingress-nginx's size grammar: a number with an optional k/m/g unit (0 turns the limit off).
_NGINX_SIZE = re.compile(r"^[0-9]+[kKmMgG]?$")
# Objects get <name>-grpc and <name>-tls: the name leaves room for the longest suffix within 63.
MAX_NAME = 58


def _fail(path: str, problem: str, fix: str) -> NoReturn:
    raise SpecError("%s: %s. %s" % (path, problem, fix))


def _merge(path: str, given: Any, defaults: Dict[str, Any], example: str) -> Dict[str, Any]:
    if given is None:
        given = {}
    if not isinstance(given, dict):
        _fail(path, "expected a mapping, got %s" % type(given).__name__, "For example %s." % example)
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        _fail(path, "unknown option(s) %s" % ", ".join(map(str, unknown)), "Known options: %s." % ", ".join(sorted(defaults)))
    merged = dict(defaults)
    merged.update({k: v for k, v in given.items() if v is not None})
    return merged


def _name(path: str, value: Any, max_length: int = 63) -> str:
    if not isinstance(value, str) or not value:
        _fail(path, "expected a name, got %r" % (value,), "Give a DNS-1123 label, for example resnet50.")
    if len(value) > max_length or not DNS_LABEL.match(value):
        _fail(path, "%r is not a DNS-1123 label of at most %d characters" % (value, max_length),
              "Use lower-case letters, digits and '-', starting and ending with a letter or digit.")
    return value


def valid_host(path: str, host: Any) -> str:
    """A host name as Ingress, HTTPRoute and certificates take it: RFC 1123, lower case, a wildcard only as
    the whole first label."""
    fix = "Give a DNS name such as models.example.com; a wildcard may only be the whole first label (*.example.com)."
    if not isinstance(host, str) or not host:
        _fail(path, "expected a host name, got %r" % (host,), fix)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        _fail(path, "%s is an IP address; Ingress and Gateway API hosts are names" % host,
              "Give a DNS name that resolves to the load balancer, or leave the address out of hosts.")
    if "://" in host or "/" in host or ":" in host:
        _fail(path, "%r is not a host name (no scheme, port or path)" % host, fix)
    if host != host.lower():
        _fail(path, "%r has upper-case letters" % host, "Write it in lower case: %s." % host.lower())
    bare = host[2:] if host.startswith("*.") else host
    if "*" in bare:
        _fail(path, "%r has a wildcard that is not the whole first label" % host, fix)
    if len(host) > 253 or not DNS_SUBDOMAIN.match(bare) or any(len(label) > 63 for label in bare.split(".")):
        _fail(path, "%r is not an RFC 1123 host name" % host, fix)
    if host.startswith("*.") and "." not in bare:
        _fail(path, "%r is a wildcard over a top-level domain" % host, "Give at least two labels after the wildcard, such as *.example.com.")
    return host


def _labels(value: Any) -> Dict[str, str]:
    if not isinstance(value, dict):
        _fail("labels", "expected a mapping of label to value, got %s" % type(value).__name__, "For example {team: vision}.")
    for key in value:
        problem = qualified_name_problem(key) if isinstance(key, str) else "expected a string key"
        if problem:
            _fail("labels.%s" % key, problem, "Use a label key, for example team.")
    return {key: valid_label_value("labels.%s" % key, label) for key, label in value.items()}


def _hosts(value: Any) -> List[str]:
    if not isinstance(value, list) or not value:
        _fail("hosts", "expected a non-empty list of host names, got %r" % (value,), "For example [models.example.com].")
    hosts = [valid_host("hosts[%d]" % i, h) for i, h in enumerate(value)]
    duplicates = sorted({h for h in hosts if hosts.count(h) > 1})
    if duplicates:
        _fail("hosts", "%s listed more than once" % ", ".join(duplicates), "List each host once.")
    return hosts


def _protocols(runtime: Any, value: Any) -> List[str]:
    served = ["http"] + (["grpc"] if runtime.grpc_services else [])
    if value is None:
        return served
    if not isinstance(value, list) or not value:
        _fail("protocols", "expected a non-empty list, got %r" % (value,), "Give [http], [grpc] or [http, grpc].")
    for index, protocol in enumerate(value):
        if protocol not in options.PROTOCOLS:
            _fail("protocols[%d]" % index, "%r is not a protocol" % (protocol,), "Give http or grpc.")
        if protocol not in served:
            _fail("protocols[%d]" % index, "%s serves no gRPC through its Service" % runtime.name,
                  "Leave grpc out for %s (its predictor Service has only the REST port)." % runtime.name)
    return [p for p in options.PROTOCOLS if p in value]


def _ports(runtime: Any, value: Any) -> Dict[str, int]:
    ports = dict(runtime.backend_ports or runtime.ports)
    given = {k: v for k, v in (value or {}).items() if v is not None}
    if given and runtime.backend_ports:
        _fail("ports", "%s's Service is written by its controller with fixed ports" % runtime.name, "Leave ports out for %s." % runtime.name)
    for name, port in given.items():
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            _fail("ports.%s" % name, "expected a port number from 1 to 65535, got %r" % (port,),
                  "Give the number of the Service's %s port (the ports option of inference_stack)." % name)
        ports[name] = port
    return {name: ports[name] for name in options.PROTOCOLS if name in ports}


def _annotations(value: Any) -> Dict[str, str]:
    if not isinstance(value, dict):
        _fail("ingress.annotations", "expected a mapping, got %s" % type(value).__name__, "For example {nginx.ingress.kubernetes.io/limit-rps: '10'}.")
    for key, text in value.items():
        if key == CLASS_ANNOTATION:
            _fail("ingress.annotations.%s" % key, "the annotation is deprecated and ignored next to spec.ingressClassName",
                  "Remove it and set ingress.class_name to the IngressClass's name instead.")
        problem = qualified_name_problem(key) if isinstance(key, str) else "expected a string key"
        if problem:
            _fail("ingress.annotations.%s" % key, problem, "Use an annotation key such as nginx.ingress.kubernetes.io/limit-rps.")
        if not isinstance(text, str):
            _fail("ingress.annotations.%s" % key, "expected a string, got %r" % (text,), "Quote the value in YAML, for example '%s'." % text)
    return dict(value)


def _ingress(value: Any) -> Optional[Dict[str, Any]]:
    if value is None:
        return None
    ingress = _merge("ingress", value, INGRESS_DEFAULTS, "{class_name: nginx}")
    if not ingress["class_name"]:
        _fail("ingress.class_name", "no IngressClass given", "Set it to the name of an IngressClass of the cluster "
              "(kubectl get ingressclass), for example nginx.")
    _name("ingress.class_name", ingress["class_name"], 253)
    ingress["annotations"] = _annotations(ingress["annotations"])
    if ingress["nginx"] is None:
        ingress["nginx"] = ingress["class_name"] == "nginx"
    if not isinstance(ingress["proxy_body_size"], str) or not _NGINX_SIZE.match(ingress["proxy_body_size"]):
        _fail("ingress.proxy_body_size", "%r is not a size ingress-nginx reads" % (ingress["proxy_body_size"],),
              "Give a number with an optional unit k, m or g, for example 64m (0 turns the limit off).")
    timeout = ingress["timeout_s"]
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 1:
        _fail("ingress.timeout_s", "expected a whole number of seconds of at least 1, got %r" % (timeout,),
              "Give the longest time one inference may take, for example 300.")
    return ingress


def _gateway(value: Any, namespace: str) -> Optional[Dict[str, Any]]:
    if value is None:
        return None
    gateway = _merge("gateway", value, GATEWAY_DEFAULTS, "{name: inference, namespace: gateways}")
    if not gateway["name"]:
        _fail("gateway.name", "the Gateway the routes attach to has no name",
              "Set gateway.name to the Gateway's name (kubectl get gateways -A), and gateway.namespace when it is in another namespace.")
    _name("gateway.name", gateway["name"], 253)
    gateway["namespace"] = _name("gateway.namespace", gateway["namespace"]) if gateway["namespace"] else namespace
    if gateway["section_name"]:
        _name("gateway.section_name", gateway["section_name"], 253)
    return gateway


def _tls(value: Any, name: str) -> Dict[str, Any]:
    tls = _merge("tls", value, TLS_DEFAULTS, "{mode: self_signed}")
    mode = tls["mode"]
    if mode not in options.TLS_MODES:
        _fail("tls.mode", "%r is not a TLS mode" % (mode,), "Give one of %s." % ", ".join(options.TLS_MODES))
    tls["secret_name"] = tls["secret_name"] or "%s-tls" % name
    _name("tls.secret_name", tls["secret_name"], 253)
    for field in ("cert_file", "key_file"):
        if mode == "secret" and not tls[field]:
            _fail("tls.%s" % field, "tls.mode secret needs the PEM %s" % ("certificate chain" if field == "cert_file" else "private key"),
                  "Give the path of the PEM file on the host the module runs on.")
        if mode != "secret" and tls[field]:
            _fail("tls.%s" % field, "is only read with tls.mode secret, not %s" % mode, "Set tls.mode to secret, or leave tls.%s out." % field)
    for field, minimum in (("expiry_warning_days", 0), ("validity_days", 1)):
        days = tls[field]
        if isinstance(days, bool) or not isinstance(days, int) or days < minimum:
            _fail("tls.%s" % field, "expected a whole number of days of at least %d, got %r" % (minimum, days), "For example 30.")
    if mode == "self_signed" and tls["validity_days"] <= tls["expiry_warning_days"]:
        _fail("tls.validity_days", "%d days is not longer than tls.expiry_warning_days (%d), so every run would make a new certificate"
              % (tls["validity_days"], tls["expiry_warning_days"]), "Give a validity longer than the warning period, for example 365.")
    issuer = tls["issuer"]
    if mode == "cert_manager":
        issuer = _merge("tls.issuer", issuer, ISSUER_DEFAULTS, "{name: letsencrypt, kind: ClusterIssuer}")
        if not issuer["name"]:
            _fail("tls.issuer.name", "tls.mode cert_manager needs the issuer that signs the certificate",
                  "Set tls.issuer.name (and tls.issuer.kind ClusterIssuer for a cluster-wide one).")
        if issuer["kind"] not in options.ISSUER_KINDS and issuer["group"] == ISSUER_DEFAULTS["group"]:
            _fail("tls.issuer.kind", "%r is not a cert-manager issuer kind" % (issuer["kind"],), "Give Issuer or ClusterIssuer.")
        if not DNS_SUBDOMAIN.match(str(issuer["group"])):
            _fail("tls.issuer.group", "%r is not an API group" % (issuer["group"],), "Give cert-manager.io, or the group of an external issuer.")
    elif issuer and any(v is not None for v in issuer.values()):
        _fail("tls.issuer", "is only read with tls.mode cert_manager, not %s" % mode, "Set tls.mode to cert_manager, or leave tls.issuer out.")
    else:
        issuer = None
    tls["issuer"] = issuer
    return tls


def validate(params: Dict[str, Any]) -> Dict[str, Any]:
    """The complete spec from the module's options; SpecError names the first wrong one."""
    merged = dict(DEFAULTS)
    merged.update({k: v for k, v in params.items() if v is not None})
    if merged["runtime"] not in rt.RUNTIMES:
        _fail("runtime", "%r is not a serving runtime" % (merged["runtime"],), "Give one of %s." % ", ".join(rt.RUNTIMES))
    runtime = rt.get(merged["runtime"])
    name = _name("name", merged["name"], MAX_NAME)
    namespace = _name("namespace", merged["namespace"])
    labels = _labels(merged["labels"])
    ingress = _ingress(merged["ingress"])
    gateway = _gateway(merged["gateway"], namespace)
    if merged["openshift_route"] not in options.OPENSHIFT_ROUTE_CHOICES:
        _fail("openshift_route", "%r is not a choice" % (merged["openshift_route"],), "Give auto, always or never.")
    if not ingress and not gateway and merged["openshift_route"] == "never":
        _fail("ingress", "nothing routes traffic to %s: no ingress, no gateway, and openshift_route is never" % name,
              "Give ingress (an IngressClass), gateway (a Gateway to attach to), or openshift_route auto.")
    hosts = _hosts(merged["hosts"])
    tls = _tls(merged["tls"], name)
    return {
        "name": name,
        "namespace": namespace,
        "runtime": runtime.name,
        "hosts": hosts,
        "protocols": _protocols(runtime, merged["protocols"]),
        "backend": {
            "service": runtime.backend_service(name),
            "ports": _ports(runtime, merged["ports"]),
            "paths": list(runtime.route_paths),
            "grpc_services": list(runtime.grpc_services),
        },
        "ingress": ingress,
        "gateway": gateway,
        "openshift_route": merged["openshift_route"],
        "tls": tls,
        "labels": dict(labels),
        "state": merged["state"],
    }
