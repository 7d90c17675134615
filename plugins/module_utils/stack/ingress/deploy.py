# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the inference_ingress module does, start to end: validate the options and the PEM files, build the
TLS and traffic objects, apply them through k8s/apply.py (check mode: a server-side dry run), or remove them.

Nothing is written before every check has passed. A self-signed certificate is made once: the Secret the
API holds is kept while it covers the hosts and is more than tls.expiry_warning_days from expiry, so a
second run applies the same bytes and reports no change.
"""

from __future__ import annotations

import base64
from typing import Any, Dict, List, Tuple

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.errors import InputError
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.apply import apply_objects, remove_objects
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.errors import K8sError
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.builders import tls as tls_builder
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.builders import traffic
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.ingress import certificates, options
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.ingress import spec as spec_module

Obj = Dict[str, Any]


def plan(params: Dict[str, Any]) -> Dict[str, Any]:
    """The checked spec (what the role's preflight runs through the input_problem filter)."""
    spec = spec_module.validate({name: params.get(name) for name in options.ARGUMENT_SPEC})
    if spec["tls"]["mode"] != "none":
        certificates.require_cryptography()
    if spec["tls"]["mode"] == "secret" and spec["state"] == "present":
        # removal needs no certificate: the files may be gone by then
        _pem_files(spec)
    return spec


def _pem_files(spec: Dict[str, Any]) -> Tuple[bytes, bytes, Dict[str, Any], List[str]]:
    """(certificate chain PEM, key PEM, description, warnings), the files read and checked."""
    tls = spec["tls"]
    cert_pem, key_pem = _read(tls["cert_file"], "cert_file"), _read(tls["key_file"], "key_file")
    description, warnings = certificates.check_pem(cert_pem, key_pem, spec["hosts"], tls["expiry_warning_days"])
    return cert_pem, key_pem, description, warnings


def _read(path: str, option: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise InputError("tls.%s: %s cannot be read (%s). Give the path of a readable PEM file on the host the module runs on."
                         % (option, path, exc.strerror or exc))


def _decoded(secret: Obj, key: str) -> bytes:
    try:
        return base64.b64decode(((secret or {}).get("data") or {}).get(key) or "")
    except ValueError:
        return b""


def _tls_objects(client: Any, spec: Dict[str, Any], warn: Any) -> Tuple[List[Obj], Dict[str, Any]]:
    """(objects, what the result says about TLS): never PEM, only the certificate's description."""
    tls = spec["tls"]
    summary: Dict[str, Any] = {"mode": tls["mode"], "secret_name": tls["secret_name"] if tls["mode"] != "none" else None}
    if tls["mode"] == "secret":
        cert_pem, key_pem, summary["certificate"], warnings = _pem_files(spec)
        for warning in warnings:
            warn(warning)
        return [tls_builder.secret(spec, cert_pem, key_pem, "files")], summary
    if tls["mode"] == "self_signed":
        stored = client.get("v1", "Secret", tls["secret_name"], spec["namespace"])
        kept = certificates.reusable(tls_builder.stored_certificate(stored), spec["hosts"], tls["expiry_warning_days"])
        if kept and _decoded(stored, "tls.key"):
            summary.update(certificate=kept, generated=False)
            return [tls_builder.secret(spec, tls_builder.stored_certificate(stored), _decoded(stored, "tls.key"), "self-signed")], summary
        cert_pem, key_pem, summary["certificate"] = certificates.self_signed(spec["hosts"], tls["validity_days"])
        summary["generated"] = True
        warn("tls: a self-signed certificate serves %s; clients must trust it explicitly. Use tls.mode cert_manager or secret in "
             "production." % ", ".join(spec["hosts"]))
        return [tls_builder.secret(spec, cert_pem, key_pem, "self-signed")], summary
    if tls["mode"] == "cert_manager":
        summary["issuer"] = dict(tls["issuer"])
        return [tls_builder.certificate(spec)], summary
    return [], summary


def _want_routes(client: Any, spec: Dict[str, Any]) -> bool:
    choice = spec["openshift_route"]
    if choice == "never" or (choice == "auto" and spec["ingress"]):
        # OpenShift's router turns an Ingress into Routes by itself: two sets would fight over the hosts
        return False
    if client.served(traffic.ROUTE_API, "Route"):
        return True
    if choice == "always":
        raise K8sError("openshift_route: the cluster does not serve route.openshift.io/v1 Route. Run against an OpenShift cluster, "
                       "or set openshift_route to auto and give ingress or gateway.")
    return False


def traffic_objects(spec: Dict[str, Any], routes: bool) -> List[Obj]:
    """Ingress(es), HTTPRoute/GRPCRoute and Routes the spec asks for, in apply order."""
    objects: List[Obj] = []
    if spec["ingress"]:
        objects.extend(traffic.ingress(spec, protocol) for protocol in spec["protocols"])
    if spec["gateway"]:
        if "http" in spec["protocols"]:
            objects.append(traffic.http_route(spec))
        if "grpc" in spec["protocols"]:
            objects.append(traffic.grpc_route(spec))
    if routes:
        wildcards = [h for h in spec["hosts"] if h.startswith("*.")]
        if wildcards:
            raise InputError("hosts: %s is a wildcard, which an OpenShift Route takes only with a router that allows wildcard routes. "
                             "Give plain host names, or set openshift_route to never and use ingress or gateway." % ", ".join(wildcards))
        objects.extend(traffic.openshift_routes(spec))
    return objects


def _present(client: Any, module: Any, spec: Dict[str, Any]) -> Dict[str, Any]:
    routes = _want_routes(client, spec)
    routing = traffic_objects(spec, routes)
    if not routing:
        raise InputError("ingress: nothing routes traffic to %s: the cluster does not serve OpenShift Routes. Give ingress "
                         "(an IngressClass) or gateway (a Gateway to attach to)." % spec["name"])
    tls_objects, tls_summary = _tls_objects(client, spec, module.warn)
    outcome = apply_objects(client, tls_objects + routing, check_mode=module.check_mode, force_conflicts=module.params["force_conflicts"])
    result: Dict[str, Any] = dict(
        changed=outcome["changed"],
        objects=[{"ref": r["ref"], "changed": r["changed"], "created": r["created"]} for r in outcome["results"]],
        tls=tls_summary,
        hosts=list(spec["hosts"]),
    )
    if module._diff:
        result["diff"] = outcome["diff"]
    return result


def _absent(client: Any, module: Any, spec: Dict[str, Any]) -> Dict[str, Any]:
    """Remove what this collection wrote for the spec; kinds the cluster does not serve were never written."""
    everything = dict(spec, protocols=list(options.PROTOCOLS) if spec["backend"]["grpc_services"] else ["http"])
    candidates = traffic_objects(everything, routes=False)
    if spec["openshift_route"] != "never":
        candidates += traffic.openshift_routes(spec)
    candidates.insert(0, tls_builder.certificate(dict(spec, tls=dict(spec["tls"], issuer={"name": "-", "kind": "Issuer", "group": "-"}))))
    candidates.insert(0, {"apiVersion": "v1", "kind": "Secret", "metadata": traffic.metadata(spec, spec["tls"]["secret_name"])})
    objects = [o for o in candidates if client.served(o["apiVersion"], o["kind"])]
    outcome = remove_objects(client, objects, check_mode=module.check_mode)
    result = dict(changed=outcome["changed"], objects=outcome["results"], kept=outcome["kept"])
    if module._diff:
        result["diff"] = outcome["diff"]
    return result


def run_inference_ingress(client: Any, module: Any) -> Dict[str, Any]:
    """The module's result (run through k8s.runner.run_api_module)."""
    spec = plan(module.params)
    if spec["state"] == "absent":
        return _absent(client, module, spec)
    return _present(client, module, spec)
