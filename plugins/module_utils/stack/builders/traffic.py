# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Traffic into one model service, as plain dicts: Ingress (networking.k8s.io/v1), Gateway API HTTPRoute and
GRPCRoute (gateway.networking.k8s.io/v1), OpenShift Route (route.openshift.io/v1).

The spec is stack/ingress/spec.validate()'s; the paths and gRPC services are the runtime's facts.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.objects import MANAGED_BY

INGRESS_API = "networking.k8s.io/v1"
GATEWAY_API = "gateway.networking.k8s.io/v1"
GATEWAY_GROUP = "gateway.networking.k8s.io"
ROUTE_API = "route.openshift.io/v1"
COMPONENT = "traffic"

# ingress-nginx's annotations (https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/)
NGINX = "nginx.ingress.kubernetes.io/"
NGINX_BODY_SIZE = NGINX + "proxy-body-size"
NGINX_READ_TIMEOUT = NGINX + "proxy-read-timeout"
NGINX_SEND_TIMEOUT = NGINX + "proxy-send-timeout"
NGINX_SSL_REDIRECT = NGINX + "ssl-redirect"
NGINX_FORCE_SSL_REDIRECT = NGINX + "force-ssl-redirect"
NGINX_BACKEND_PROTOCOL = NGINX + "backend-protocol"


def metadata(spec: Dict[str, Any], name: str, annotations: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    labels = dict(spec["labels"])
    labels.update({
        "app.kubernetes.io/instance": spec["name"],
        "app.kubernetes.io/component": COMPONENT,
        "app.kubernetes.io/managed-by": MANAGED_BY,
    })
    meta: Dict[str, Any] = {"name": name, "namespace": spec["namespace"], "labels": labels}
    if annotations:
        meta["annotations"] = annotations
    return meta


def grpc_name(spec: Dict[str, Any]) -> str:
    return "%s-grpc" % spec["name"]


def _tls_on(spec: Dict[str, Any]) -> bool:
    return bool(spec["tls"]["mode"] != "none")


def _nginx_annotations(spec: Dict[str, Any], protocol: str) -> Dict[str, str]:
    ingress = spec["ingress"]
    timeout = str(ingress["timeout_s"])
    annotations = {
        NGINX_BODY_SIZE: ingress["proxy_body_size"],
        NGINX_READ_TIMEOUT: timeout,
        NGINX_SEND_TIMEOUT: timeout,
        NGINX_SSL_REDIRECT: "true" if ingress["ssl_redirect"] and _tls_on(spec) else "false",
    }
    if ingress["force_ssl_redirect"]:
        annotations[NGINX_FORCE_SSL_REDIRECT] = "true"
    if protocol == "grpc":
        # per Ingress, which is why gRPC has an Ingress of its own
        annotations[NGINX_BACKEND_PROTOCOL] = "GRPC"
    return annotations


def _ingress_paths(spec: Dict[str, Any], protocol: str) -> List[str]:
    backend = spec["backend"]
    if protocol == "grpc":
        # a gRPC method's path is /<package.Service>/<Method>
        return ["/%s" % service for service in backend["grpc_services"]]
    return list(backend["paths"])


def ingress(spec: Dict[str, Any], protocol: str) -> Dict[str, Any]:
    """The Ingress of one protocol: <name> for HTTP, <name>-grpc for gRPC."""
    options = spec["ingress"]
    backend = spec["backend"]
    annotations = dict(options["annotations"])
    if options["nginx"]:
        annotations.update(_nginx_annotations(spec, protocol))
    paths = [
        {"path": path, "pathType": "Prefix",
         "backend": {"service": {"name": backend["service"], "port": {"number": backend["ports"][protocol]}}}}
        for path in _ingress_paths(spec, protocol)
    ]
    body: Dict[str, Any] = {
        "ingressClassName": options["class_name"],
        "rules": [{"host": host, "http": {"paths": paths}} for host in spec["hosts"]],
    }
    if _tls_on(spec):
        body["tls"] = [{"hosts": list(spec["hosts"]), "secretName": spec["tls"]["secret_name"]}]
    name = spec["name"] if protocol == "http" else grpc_name(spec)
    return {"apiVersion": INGRESS_API, "kind": "Ingress", "metadata": metadata(spec, name, annotations), "spec": body}


def _parent_ref(spec: Dict[str, Any]) -> Dict[str, Any]:
    gateway = spec["gateway"]
    ref = {"group": GATEWAY_GROUP, "kind": "Gateway", "name": gateway["name"], "namespace": gateway["namespace"]}
    if gateway["section_name"]:
        ref["sectionName"] = gateway["section_name"]
    return ref


def _backend_ref(spec: Dict[str, Any], protocol: str) -> Dict[str, Any]:
    backend = spec["backend"]
    return {"group": "", "kind": "Service", "name": backend["service"], "port": backend["ports"][protocol], "weight": 1}


def _route(spec: Dict[str, Any], kind: str, protocol: str, matches: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {
        "apiVersion": GATEWAY_API,
        "kind": kind,
        "metadata": metadata(spec, spec["name"]),
        "spec": {
            "parentRefs": [_parent_ref(spec)],
            "hostnames": list(spec["hosts"]),
            "rules": [{"matches": matches, "backendRefs": [_backend_ref(spec, protocol)]}],
        },
    }


def http_route(spec: Dict[str, Any]) -> Dict[str, Any]:
    return _route(spec, "HTTPRoute", "http", [{"path": {"type": "PathPrefix", "value": path}} for path in spec["backend"]["paths"]])


def grpc_route(spec: Dict[str, Any]) -> Dict[str, Any]:
    # a gRPC method is matched by its fully qualified service, every method of it
    return _route(spec, "GRPCRoute", "grpc", [{"method": {"type": "Exact", "service": service}} for service in spec["backend"]["grpc_services"]])


def openshift_routes(spec: Dict[str, Any]) -> List[Dict[str, Any]]:
    """One Route per host and path (a Route has one of each), edge TLS when TLS is on.

    The model servers speak plain HTTP, so the router terminates TLS (edge); reencrypt and passthrough
    would need TLS in the pod. The certificate is the Secret's, referenced (externalCertificate), never
    copied into the Route where it would show in every read of it."""
    backend = spec["backend"]
    routes = []
    pairs = [(host, path) for host in spec["hosts"] for path in backend["paths"]]
    for index, (host, path) in enumerate(pairs):
        body: Dict[str, Any] = {
            "host": host,
            "path": path,
            "to": {"kind": "Service", "name": backend["service"], "weight": 100},
            "port": {"targetPort": backend["ports"]["http"]},
            "wildcardPolicy": "None",
        }
        if _tls_on(spec):
            body["tls"] = {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect",
                           "externalCertificate": {"name": spec["tls"]["secret_name"]}}
        name = spec["name"] if len(pairs) == 1 else "%s-%d" % (spec["name"], index)
        routes.append({"apiVersion": ROUTE_API, "kind": "Route", "metadata": metadata(spec, name), "spec": body})
    return routes
