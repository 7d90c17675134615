# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cluster access options shared by every API module (same names and variables as kubernetes.core)."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to a kubeconfig file, or the kubeconfig as a dictionary.
      - When neither O(kubeconfig) nor O(host) is given, the in-cluster service account is used
        inside a pod, and C(~/.kube/config) (or the first file of E(KUBECONFIG)) elsewhere.
      - Can also be set with E(K8S_AUTH_KUBECONFIG).
      - A path that does not exist fails before any request, naming the path.
    type: raw
  context:
    description:
      - Context of the kubeconfig to use. An unknown context fails and lists the known ones.
      - Can also be set with E(K8S_AUTH_CONTEXT).
    type: str
  host:
    description:
      - URL of the API server, overriding the kubeconfig's.
      - Can also be set with E(K8S_AUTH_HOST).
    type: str
  api_key:
    description:
      - Bearer token for the API server. Never logged.
      - Can also be set with E(K8S_AUTH_API_KEY).
    type: str
  validate_certs:
    description:
      - Whether to verify the API server's TLS certificate.
      - Can also be set with E(K8S_AUTH_VERIFY_SSL).
    type: bool
    aliases: [verify_ssl]
  ca_cert:
    description:
      - Path to a CA certificate that signed the API server's certificate.
      - Can also be set with E(K8S_AUTH_SSL_CA_CERT).
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description:
      - Path to a client certificate for the API server.
      - Can also be set with E(K8S_AUTH_CERT_FILE).
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Path to the key of O(client_cert).
      - Can also be set with E(K8S_AUTH_KEY_FILE).
    type: path
    aliases: [key_file]
  proxy:
    description:
      - HTTP proxy for requests to the API server.
      - Can also be set with E(K8S_AUTH_PROXY).
    type: str
requirements:
  - kubernetes >= 31.0.0 (Python client)
"""
