# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""TLS objects of one model service, as plain dicts: a kubernetes.io/tls Secret (from checked PEM files or a
self-signed certificate) and a cert-manager.io/v1 Certificate.

The PEM bytes come from stack/ingress/certificates.py, already checked; k8s/apply.py redacts the Secret's
data in every result and diff.
"""

from __future__ import annotations

import base64
from typing import Any, Dict

from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.builders.traffic import metadata

CERT_MANAGER_API = "cert-manager.io/v1"
# Says on the Secret how it was made, so a later run knows a self-signed one is its own to keep or renew.
SOURCE_ANNOTATION = "inferops.kubernetes/tls-source"


def secret(spec: Dict[str, Any], cert_pem: bytes, key_pem: bytes, source: str) -> Dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(spec, spec["tls"]["secret_name"], {SOURCE_ANNOTATION: source}),
        "type": "kubernetes.io/tls",
        "data": {
            "tls.crt": base64.b64encode(cert_pem).decode("ascii"),
            "tls.key": base64.b64encode(key_pem).decode("ascii"),
        },
    }


def stored_certificate(secret_obj: Any) -> bytes:
    """The tls.crt of a Secret as read from the API (empty when there is none)."""
    data = (secret_obj or {}).get("data") or {}
    try:
        return base64.b64decode(data.get("tls.crt") or "")
    except ValueError:
        return b""


def certificate(spec: Dict[str, Any]) -> Dict[str, Any]:
    """A cert-manager Certificate whose Secret is the one the Ingress (or the Gateway's listener) reads."""
    tls = spec["tls"]
    issuer = tls["issuer"]
    common_name = next((h for h in spec["hosts"] if not h.startswith("*.") and len(h) <= 64), None)
    body: Dict[str, Any] = {
        "secretName": tls["secret_name"],
        "dnsNames": list(spec["hosts"]),
        "issuerRef": {"name": issuer["name"], "kind": issuer["kind"], "group": issuer["group"]},
        # renew when expiry_warning_days are left, the same bound the module warns at for PEM files
        "renewBefore": "%dh" % (24 * tls["expiry_warning_days"]) if tls["expiry_warning_days"] else None,
        "privateKey": {"rotationPolicy": "Always"},
        "usages": ["digital signature", "key encipherment", "server auth"],
    }
    if common_name:
        body["commonName"] = common_name
    body = {k: v for k, v in body.items() if v is not None}
    return {"apiVersion": CERT_MANAGER_API, "kind": "Certificate", "metadata": metadata(spec, spec["name"]), "spec": body}
