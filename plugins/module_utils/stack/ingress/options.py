# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inference_ingress module's options: the one place their names, types, choices and defaults are written.

The module's DOCUMENTATION and the ingress_tls role's meta/argument_specs.yml are checked against
ARGUMENT_SPEC by tests/unit/test_argument_specs.py.
"""

from __future__ import annotations

from typing import Any, Dict

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.options import APPLY_ARG_SPEC, STATE_ARG_SPEC
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack import runtimes

PROTOCOLS = ("http", "grpc")
TLS_MODES = ("none", "secret", "self_signed", "cert_manager")
ISSUER_KINDS = ("Issuer", "ClusterIssuer")
OPENSHIFT_ROUTE_CHOICES = ("auto", "always", "never")

# What is routed, and how: the options spec.validate() reads.
TRAFFIC_OPTIONS: Dict[str, Dict[str, Any]] = dict(
    name=dict(type="str", required=True),
    namespace=dict(type="str", default="default"),
    runtime=dict(type="str", required=True, choices=list(runtimes.RUNTIMES)),
    hosts=dict(type="list", elements="str", required=True),
    protocols=dict(type="list", elements="str", choices=list(PROTOCOLS)),
    ports=dict(type="dict", options=dict(http=dict(type="int"), grpc=dict(type="int"))),
    ingress=dict(
        type="dict",
        options=dict(
            class_name=dict(type="str"),
            # Raw values: an unquoted true would become "True"; the spec refuses it instead.
            annotations=dict(type="dict", default={}),
            nginx=dict(type="bool"),
            proxy_body_size=dict(type="str", default="64m"),
            timeout_s=dict(type="int", default=300),
            ssl_redirect=dict(type="bool", default=True),
            force_ssl_redirect=dict(type="bool", default=False),
        ),
    ),
    gateway=dict(
        type="dict",
        options=dict(
            name=dict(type="str"),
            namespace=dict(type="str"),
            section_name=dict(type="str"),
        ),
    ),
    openshift_route=dict(type="str", choices=list(OPENSHIFT_ROUTE_CHOICES), default="auto"),
    tls=dict(
        type="dict",
        options=dict(
            mode=dict(type="str", choices=list(TLS_MODES), default="none"),
            secret_name=dict(type="str"),
            cert_file=dict(type="path"),
            key_file=dict(type="path"),
            expiry_warning_days=dict(type="int", default=30),
            validity_days=dict(type="int", default=365),
            issuer=dict(
                type="dict",
                options=dict(
                    name=dict(type="str"),
                    kind=dict(type="str", choices=list(ISSUER_KINDS), default="Issuer"),
                    group=dict(type="str", default="cert-manager.io"),
                ),
            ),
        ),
    ),
    labels=dict(type="dict", default={}),
)

RUN_OPTIONS = dict(**STATE_ARG_SPEC, **APPLY_ARG_SPEC)

ARGUMENT_SPEC = dict(TRAFFIC_OPTIONS, **RUN_OPTIONS)
