#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: inference_ingress
short_description: Route traffic to one model service through Ingress, Gateway API or OpenShift Routes, with TLS
version_added: 0.1.0
description:
  - For one model service deployed by M(inferops.kubernetes.inference_stack) (or named the same way), writes what brings
    traffic to it from outside the cluster, and its TLS.
  - "An C(networking.k8s.io/v1) Ingress with C(ingressClassName), one rule per host and one C(Prefix) path per API of the
    runtime (C(/v1/models) for TF Serving, C(/v2/models) for Triton and ONNX Runtime, C(/predictions) for TorchServe, both
    C(/v1/models) and C(/v2/models) for KServe), and a second Ingress C(<name>-grpc) for gRPC (the ingress-nginx backend
    protocol is set per Ingress). When the class is ingress-nginx, the annotations for body size, timeouts, SSL redirect
    and the gRPC backend protocol."
  - A Gateway API C(HTTPRoute) and C(GRPCRoute) (C(gateway.networking.k8s.io/v1)) attached to a given Gateway.
  - OpenShift C(Route)s (C(route.openshift.io/v1), edge TLS) when the cluster serves that API; see O(openshift_route).
  - "TLS: a C(kubernetes.io/tls) Secret from PEM files, checked first (the key matches the certificate, nothing in the
    chain has expired, the SANs cover every host, each certificate is signed by the next); a self-signed certificate for
    development, made once and kept while it serves; or a cert-manager C(Certificate)."
  - Every option and PEM file is checked before anything is written; a wrong one fails naming it and the fix.
    Private keys never appear in the result, the diff or a message.
author:
  - inferops.kubernetes maintainers (@inferops)
requirements:
  - kubernetes
  - cryptography (with O(tls.mode) other than V(none))
options:
  name:
    description:
      - Name of the model service (the O(inferops.kubernetes.inference_stack#module:name) it was deployed with), and of
        the objects this module writes (C(<name>), C(<name>-grpc)). At most 58 characters.
    type: str
    required: true
  namespace:
    description:
      - Namespace of the model service and of every object written.
    type: str
    default: default
  runtime:
    description:
      - The serving runtime of the model service. It decides the paths and gRPC services routed, and the Service traffic
        goes to (C(<name>), or for V(kserve) the predictor Service C(<name>-predictor) that KServe writes).
    type: str
    required: true
    choices: [tensorflow_serving, torchserve, triton, onnxruntime, kserve]
  hosts:
    description:
      - Host names clients use. RFC 1123 names in lower case; a wildcard only as the whole first label
        (V(*.models.example.com)). IP addresses are refused.
    type: list
    elements: str
    required: true
  protocols:
    description:
      - What is routed. Defaults to what the runtime's Service serves - V(http) and V(grpc), V(http) only for V(kserve),
        whose predictor Service has only the REST port.
    type: list
    elements: str
    choices: [http, grpc]
  ports:
    description:
      - The Service's port numbers, where the model service was deployed with other O(inferops.kubernetes.inference_stack#module:ports).
        Defaults to the runtime's own. Not for V(kserve) (its controller writes the Service, port 80).
    type: dict
    suboptions:
      http:
        description: The REST port.
        type: int
      grpc:
        description: The gRPC port.
        type: int
  ingress:
    description:
      - Write Ingress objects. Leave it out for none.
    type: dict
    suboptions:
      class_name:
        description:
          - The IngressClass (C(spec.ingressClassName)). Required with O(ingress).
          - The C(kubernetes.io/ingress.class) annotation is refused in O(ingress.annotations); this replaces it.
        type: str
      annotations:
        description:
          - Further annotations on both Ingresses; values must be strings. Where one has the name of an annotation
            the module writes itself, the module's wins; set the option for it instead (O(ingress.proxy_body_size)...).
        type: dict
        default: {}
      nginx:
        description:
          - Write ingress-nginx's annotations. Defaults to whether O(ingress.class_name) is V(nginx).
        type: bool
      proxy_body_size:
        description:
          - Largest request body ingress-nginx passes (C(nginx.ingress.kubernetes.io/proxy-body-size)). Its own default,
            1m, refuses many image and tensor payloads with 413.
        type: str
        default: 64m
      timeout_s:
        description:
          - Seconds ingress-nginx waits on the model server (C(proxy-read-timeout) and C(proxy-send-timeout)). Its own
            default, 60, cuts long inferences off with 504.
        type: int
        default: 300
      ssl_redirect:
        description:
          - Redirect HTTP to HTTPS when TLS is on (C(nginx.ingress.kubernetes.io/ssl-redirect)).
        type: bool
        default: true
      force_ssl_redirect:
        description:
          - Redirect to HTTPS even without TLS on the Ingress, for TLS terminated in front of the controller
            (C(nginx.ingress.kubernetes.io/force-ssl-redirect)).
        type: bool
        default: false
  gateway:
    description:
      - Write an C(HTTPRoute) (and a C(GRPCRoute) for V(grpc)) attached to this Gateway. Leave it out for none.
      - TLS for Gateway API is configured on the Gateway's listener, which the Gateway's owner manages; O(tls) still
        writes the Secret or Certificate, for that listener to reference.
    type: dict
    suboptions:
      name:
        description: The Gateway's name. Required with O(gateway).
        type: str
      namespace:
        description: The Gateway's namespace. Defaults to O(namespace).
        type: str
      section_name:
        description: The Gateway listener to attach to. Defaults to every listener that allows the routes.
        type: str
  openshift_route:
    description:
      - V(auto) writes OpenShift Routes when the cluster serves C(route.openshift.io/v1) and O(ingress) is not given
        (OpenShift's router makes Routes from an Ingress by itself). V(always) fails where Routes are not served.
        V(never) writes none.
      - One Route per host and path; wildcard hosts are refused for Routes.
    type: str
    choices: [auto, always, never]
    default: auto
  tls:
    description:
      - TLS for the hosts.
    type: dict
    suboptions:
      mode:
        description:
          - V(none), plain HTTP.
          - V(secret), a C(kubernetes.io/tls) Secret from O(tls.cert_file) and O(tls.key_file), checked first.
          - V(self_signed), a self-signed certificate for the hosts (P-256 key), for development. Made once; kept while it
            covers the hosts and is more than O(tls.expiry_warning_days) from expiry.
          - V(cert_manager), a cert-manager C(Certificate) signed by O(tls.issuer); cert-manager writes the Secret.
        type: str
        choices: [none, secret, self_signed, cert_manager]
        default: none
      secret_name:
        description: The Secret the Ingress and Routes read. Defaults to C(<name>-tls).
        type: str
      cert_file:
        description:
          - With V(secret), the PEM file of the server certificate followed by its intermediates, in order. Read on the
            host the module runs on.
        type: path
      key_file:
        description:
          - With V(secret), the PEM file of the certificate's unencrypted private key. Its content never appears in the
            result.
        type: path
      expiry_warning_days:
        description:
          - With V(secret), warn when the certificate expires within this many days. With V(self_signed), make a new
            certificate within this many days of expiry. With V(cert_manager), the Certificate's C(renewBefore).
        type: int
        default: 30
      validity_days:
        description: With V(self_signed), how long a new certificate is valid.
        type: int
        default: 365
      issuer:
        description: With V(cert_manager), the issuer of the Certificate.
        type: dict
        suboptions:
          name:
            description: The issuer's name. Required with V(cert_manager).
            type: str
          kind:
            description: V(Issuer) (in O(namespace)) or V(ClusterIssuer).
            type: str
            choices: [Issuer, ClusterIssuer]
            default: Issuer
          group:
            description: The issuer's API group; another group for an external issuer.
            type: str
            default: cert-manager.io
  labels:
    description: Labels on every object written, besides the collection's own.
    type: dict
    default: {}
extends_documentation_fragment:
  - inferops.kubernetes.k8s_auth
  - inferops.kubernetes.k8s_apply
  - inferops.kubernetes.k8s_apply.STATE
  - inferops.kubernetes.attributes
  - inferops.kubernetes.attributes.ACTION_GROUP
attributes:
  idempotent:
    support: full
notes:
  - Needs C(get), C(patch) and C(delete) on Ingresses, HTTPRoutes, GRPCRoutes, Routes, Certificates and Secrets in
    O(namespace) (only for the kinds written), and discovery.
  - With O(state=absent), give the same O(ingress), O(gateway) and O(hosts); a Secret cert-manager wrote is left to
    cert-manager.
  - A Gateway in another namespace must allow routes from O(namespace) (its listeners' C(allowedRoutes)).
seealso:
  - module: inferops.kubernetes.inference_stack
  - name: ingress-nginx annotations
    description: The annotations written when the class is ingress-nginx.
    link: https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/
  - name: Gateway API
    description: HTTPRoute and GRPCRoute.
    link: https://gateway-api.sigs.k8s.io/
"""

EXAMPLES = r"""
- name: Triton behind ingress-nginx with a certificate from files
  inferops.kubernetes.inference_ingress:
    name: resnet50
    namespace: models
    runtime: triton
    hosts: [resnet50.models.example.com]
    ingress:
      class_name: nginx
    tls:
      mode: secret
      cert_file: /etc/pki/inference/resnet50.crt
      key_file: /etc/pki/inference/resnet50.key

- name: A self-signed certificate for development, and routes on a shared Gateway
  inferops.kubernetes.inference_ingress:
    name: resnet50
    namespace: models
    runtime: triton
    hosts: [resnet50.dev.example.com]
    gateway:
      name: inference
      namespace: gateways
      section_name: https
    tls:
      mode: self_signed

- name: KServe with a certificate from a cert-manager ClusterIssuer
  inferops.kubernetes.inference_ingress:
    name: iris
    namespace: models
    runtime: kserve
    hosts: [iris.models.example.com]
    ingress:
      class_name: nginx
    tls:
      mode: cert_manager
      issuer:
        name: letsencrypt
        kind: ClusterIssuer
"""

RETURN = r"""
objects:
  description: Each object written (or, with O(state=absent), deleted), in order, and whether it changed.
  returned: always
  type: list
  elements: dict
  sample: [{"ref": "Secret models/resnet50-tls", "changed": false, "created": false},
           {"ref": "Ingress models/resnet50", "changed": true, "created": true}]
tls:
  description:
    - The TLS mode, the Secret, and for V(secret) and V(self_signed) the server certificate's C(serial), C(sha256_fingerprint),
      C(subject), C(not_before), C(not_after) and C(dns_names) (never PEM). C(generated) says whether a self-signed
      certificate was made in this run.
  returned: when O(state=present)
  type: dict
  sample: {"mode": "self_signed", "secret_name": "resnet50-tls", "generated": false,
           "certificate": {"serial": "5f1c...", "not_after": "2027-12-05T03:00:00+00:00", "dns_names": ["resnet50.dev.example.com"]}}
hosts:
  description: The hosts routed.
  returned: when O(state=present)
  type: list
  elements: str
kept:
  description: Objects O(state=absent) left in place, and why (another field manager also writes them, or never this one).
  returned: when O(state=absent)
  type: list
  elements: str
diff:
  description: Before and after of each changed object, without server bookkeeping; Secret data redacted.
  returned: in diff mode, when changed
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.runner import api_argument_spec, run_api_module
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.ingress import options
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.ingress.deploy import run_inference_ingress


def main():
    module = AnsibleModule(argument_spec=api_argument_spec(**options.ARGUMENT_SPEC), supports_check_mode=True)
    run_api_module(module, lambda client: run_inference_ingress(client, module))


if __name__ == "__main__":
    main()
