#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: inference_access
short_description: Least privilege for one model service - ServiceAccount, Role and RoleBinding, NetworkPolicy
version_added: 0.1.0
description:
  - For one model service that M(inferops.kubernetes.inference_stack) deployed (or any workload labelled the way it
    labels its pods), writes a ServiceAccount without token automount, a Role and RoleBinding with only the rules
    asked for, and a NetworkPolicy that denies ingress to the serving pods except from the ingress or gateway
    namespaces (client ports) and Prometheus (metrics port).
  - Objects are applied with server-side apply; check mode is a server-side dry run. With O(mode=render) the same
    objects are written as YAML files.
  - Every option is checked before anything is written. Refused, among others, wildcards in RBAC rules unless
    O(rbac.allow_wildcards), verbs the API server does not authorize, rules that grant nothing, invalid CIDRs,
    namespaces that are not DNS labels and ports out of range.
  - When the API server refuses the Role because the identity running the module does not hold what it grants (RBAC
    escalation prevention), the message says so and names the C(escalate) and C(bind) verbs that allow it.
  - Nothing written here touches pods or namespace labels, so Pod Security admission of the serving pods is unchanged.
author:
  - inferops.kubernetes maintainers (@inferops)
options:
  name:
    description:
      - The model service's name, as given to M(inferops.kubernetes.inference_stack). The Role, RoleBinding and
        NetworkPolicy take this name.
    type: str
    required: true
  namespace:
    description:
      - The service's namespace, a DNS label. It must exist.
    type: str
    default: default
  runtime:
    description:
      - The service's serving runtime. It says which pods are the service's (the stack's labels, or KServe's
        C(serving.kserve.io/inferenceservice) and C(component=predictor) for V(kserve)) and which ports clients and
        Prometheus call.
    type: str
    required: true
    choices: [tensorflow_serving, torchserve, triton, onnxruntime, kserve]
  ports:
    description:
      - Port numbers the service was deployed with, where they differ from the runtime's defaults (the stack's
        O(inferops.kubernetes.inference_stack#module:ports) option). Only V(kserve) reads them, whose pods' ports
        have no names; the other runtimes' ports are named in the NetworkPolicy and follow a renumbering by themselves.
    type: dict
  service_account:
    description:
      - Name of the ServiceAccount. Defaults to O(name).
    type: str
  service_account_token:
    description:
      - Whether pods of the account mount its API token by default (C(automountServiceAccountToken)). A pod's own
        setting wins; the stack's pods set theirs from the stack's C(service_account_token) option.
      - Leave it off unless the workload calls the Kubernetes API (the O(rbac) rules are useless without a token).
    type: bool
    default: false
  rbac:
    description:
      - What the account may do in O(namespace). Without presets and rules, no Role or RoleBinding is written (and one
        this collection wrote before is removed).
    type: dict
    suboptions:
      presets:
        description:
          - Named sets of rules. V(read_pods_and_services) grants get, list and watch on pods and services, for a
            workload that finds its peers through the API.
        type: list
        elements: str
        choices: [read_pods_and_services]
        default: []
      rules:
        description:
          - Rules as in a Role, each with O(rbac.rules[].api_groups), O(rbac.rules[].resources) and
            O(rbac.rules[].verbs), optionally O(rbac.rules[].resource_names).
        type: list
        elements: dict
        default: []
        suboptions:
          api_groups:
            description: API groups without version, V('') for the core group (pods, services). Required.
            type: list
            elements: str
          resources:
            description: Lower-case plural resource names, optionally with a subresource (V(pods/log)). Required.
            type: list
            elements: str
          verbs:
            description:
              - Verbs, among get, list, watch, create, update, patch, delete, deletecollection, bind, escalate,
                impersonate, use, approve, sign, attest. Required.
            type: list
            elements: str
          resource_names:
            description: Limit the rule to these object names.
            type: list
            elements: str
      allow_wildcards:
        description:
          - Accept V(*) in api_groups, resources and verbs. Refused otherwise, with the fix.
        type: bool
        default: false
  network_policy:
    description:
      - The NetworkPolicy of the serving pods. Its ingress is denied except as listed here.
      - It is enforced only where the cluster's network plugin enforces NetworkPolicy (Calico, Cilium and others);
        elsewhere it is stored and has no effect.
    type: dict
    suboptions:
      enabled:
        description: Write the NetworkPolicy. V(false) writes none and removes one this collection wrote before.
        type: bool
        default: true
      ingress_namespaces:
        description:
          - Namespaces whose pods may call the client ports (http and grpc) - the ingress controller's or gateway's.
            Matched on the C(kubernetes.io/metadata.name) label, which the API server sets on every namespace.
          - An empty list lets no namespace in.
        type: list
        elements: str
        default: [ingress-nginx]
      prometheus_namespace:
        description:
          - Namespace of the Prometheus that scrapes the runtime's metrics port. Empty for none. A runtime without a
            metrics endpoint (V(tensorflow_serving) as the stack runs it) gets no such rule.
        type: str
        default: monitoring
      prometheus_pod_labels:
        description: Labels of the Prometheus pods in O(network_policy.prometheus_namespace).
        type: dict
        default: {app.kubernetes.io/name: prometheus}
      dns_namespace:
        description: Namespace of the cluster DNS pods, the egress allowed to UDP and TCP 53 when egress is limited.
        type: str
        default: kube-system
      dns_pod_labels:
        description: Labels of the cluster DNS pods (CoreDNS keeps kube-dns's C(k8s-app=kube-dns)).
        type: dict
        default: {k8s-app: kube-dns}
      egress:
        description:
          - Address blocks the pods may reach, for example the model store. When given, all other egress is denied
            (DNS stays allowed); when empty, egress is not limited at all.
        type: list
        elements: dict
        default: []
        suboptions:
          cidr:
            description: The block, for example V(10.0.12.0/24). Required.
            type: str
          exclude:
            description: Smaller blocks inside O(network_policy.egress[].cidr) that stay denied.
            type: list
            elements: str
            default: []
          ports:
            description: Ports allowed in the block.
            type: list
            elements: int
            default: [443]
          protocol:
            description: Protocol of O(network_policy.egress[].ports).
            type: str
            choices: [TCP, UDP, SCTP]
            default: TCP
  mode:
    description:
      - V(apply) writes to the cluster; V(render) writes the same objects as YAML files to O(render_dir) and needs
        no cluster. V(render) takes only O(state=present).
    type: str
    choices: [apply, render]
    default: apply
  render_dir:
    description:
      - Directory for O(mode=render); one file per object, named by apply order, kind and name.
    type: path
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
  - The identity running the module needs create, get, patch and delete on serviceaccounts, roles, rolebindings and
    networkpolicies in O(namespace), and must hold every permission the Role grants (or the verbs C(escalate) and
    C(bind) on roles).
seealso:
  - name: Least-privilege access in this collection
    description: docs/access.md, what each object holds and why.
    link: https://github.com/inferops/kubernetes/blob/main/docs/access.md
"""

EXAMPLES = r"""
- name: A Triton service that lists its peers, reachable from ingress-nginx, scraped by Prometheus
  inferops.kubernetes.inference_access:
    name: bert
    namespace: serving
    runtime: triton
    rbac:
      presets: [read_pods_and_services]

- name: Egress only to DNS and the in-cluster object store, calls from the gateway namespace only
  inferops.kubernetes.inference_access:
    name: resnet
    namespace: serving
    runtime: tensorflow_serving
    network_policy:
      ingress_namespaces: [gateway-system]
      egress:
        - cidr: 10.20.0.0/16
          ports: [9000]

- name: Read one ConfigMap by name
  inferops.kubernetes.inference_access:
    name: llm
    namespace: serving
    runtime: kserve
    service_account_token: true
    rbac:
      rules:
        - api_groups: [""]
          resources: [configmaps]
          verbs: [get, watch]
          resource_names: [llm-routing]

- name: Remove what the module wrote for the service
  inferops.kubernetes.inference_access:
    name: bert
    namespace: serving
    runtime: triton
    state: absent
"""

RETURN = r"""
objects:
  description:
    - Each object written (O(state=present)) or removed (O(state=absent)), with C(ref), C(changed) and C(created)
      (C(file) in render mode).
  returned: always
  type: list
  elements: dict
  sample: [{"ref": "ServiceAccount serving/bert", "changed": true, "created": true}]
removed:
  description: Objects this collection wrote before that the options no longer ask for, removed now.
  returned: when O(state=present) and O(mode=apply)
  type: list
  elements: str
  sample: ["Role serving/bert", "RoleBinding serving/bert"]
kept:
  description: Objects O(state=absent) left in place, with the reason (another field manager also writes them).
  returned: when O(state=absent)
  type: list
  elements: str
rendered_files:
  description: The files written in render mode, in apply order.
  returned: when O(mode=render)
  type: list
  elements: str
diff:
  description: Before and after of each changed object (or file), without server bookkeeping.
  returned: in diff mode, when changed
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.runner import run_module
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.runner import api_argument_spec
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.access import options
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.access.deploy import run_inference_access


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(**options.ARGUMENT_SPEC),
        required_if=options.REQUIRED_IF,
        supports_check_mode=True,
    )
    run_module(module, lambda: run_inference_access(module))


if __name__ == "__main__":
    main()
