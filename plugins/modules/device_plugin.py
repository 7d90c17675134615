#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: device_plugin
short_description: Deploy the NVIDIA device plugin DaemonSet with its MIG and time-slicing config
version_added: 0.1.0
description:
  - Deploys the NVIDIA k8s-device-plugin, which advertises each GPU node's GPUs to the kubelet as
    V(nvidia.com/gpu) (or V(nvidia.com/mig-<profile>), or time-sliced replicas of them).
  - Writes a Namespace labelled for privileged pods (the plugin mounts the kubelet's device-plugin
    directory from the host), a ConfigMap with the plugin's config file (format C(v1), MIG strategy,
    time-slicing), the RuntimeClass V(nvidia), and the DaemonSet, pinned to an image version.
  - The DaemonSet runs on GPU nodes only (label V(nvidia.com/gpu.present=true), or Node Feature
    Discovery's V(feature.node.kubernetes.io/pci-10de.present=true)), tolerates the V(nvidia.com/gpu)
    NoSchedule taint and V(CriticalAddonsOnly), and runs at priority V(system-node-critical).
  - Every option is checked before anything is written; a wrong one fails with a message that names it
    and says what to do. The image tag V(latest), or no tag, is refused.
  - With O(wait), waits until every targeted node runs an available pod of the current DaemonSet
    template; on timeout the message carries the DaemonSet's counters and each unready pod's reason.
author:
  - inferops.kubernetes maintainers (@inferops)
options:
  namespace:
    description:
      - Namespace of the DaemonSet and its ConfigMap. Created when missing, and labelled
        C(pod-security.kubernetes.io/enforce=privileged) (also C(audit) and C(warn)).
    type: str
    default: nvidia-device-plugin
  image:
    description:
      - The device plugin image, with a pinned tag or digest. V(latest) and an image without a tag are refused.
    type: str
    default: nvcr.io/nvidia/k8s-device-plugin:v0.20.1
  mig_strategy:
    description:
      - How GPUs in MIG mode are advertised.
      - V(none) advertises whole GPUs as V(nvidia.com/gpu) and ignores MIG.
      - V(single) expects every GPU of a node in the same MIG layout and advertises each MIG device as V(nvidia.com/gpu).
      - V(mixed) advertises each MIG device as V(nvidia.com/mig-<profile>), for example V(nvidia.com/mig-1g.10gb).
    type: str
    choices: [none, single, mixed]
    default: none
  time_slicing:
    description:
      - Share GPUs between pods by CUDA time-slicing. Each GPU (or MIG device) is advertised O(time_slicing.replicas)
        times; pods sharing it get no memory or fault isolation.
      - Leave out for no sharing.
    type: dict
    suboptions:
      replicas:
        description:
          - How many pods may share each device. 1 turns sharing off; below 1 is refused.
        type: int
        required: true
      rename_by_default:
        description:
          - Advertise the shared devices as V(<resource>.shared) (for example V(nvidia.com/gpu.shared)), so that a pod
            asks for a shared GPU by name and never gets one by accident.
        type: bool
        default: false
      fail_requests_greater_than_one:
        description:
          - Refuse a container that requests more than one shared device; more replicas of the same GPU add no compute.
        type: bool
        default: false
      resources:
        description:
          - The resources to time-slice. V(nvidia.com/mig-<profile>) names need O(mig_strategy=mixed).
          - Defaults to V(nvidia.com/gpu).
        type: list
        elements: str
  runtime_class:
    description:
      - Create the RuntimeClass V(nvidia) (handler V(nvidia)) and run the plugin under it, so that it sees the GPUs
        also where the NVIDIA runtime is not the node's default.
      - With V(false), no RuntimeClass is written and the NVIDIA runtime must be the default on GPU nodes.
    type: bool
    default: true
  priority_class_name:
    description:
      - PriorityClass of the plugin's pods. It must exist; an empty string sets none.
    type: str
    default: system-node-critical
extends_documentation_fragment:
  - inferops.kubernetes.k8s_auth
  - inferops.kubernetes.k8s_apply
  - inferops.kubernetes.k8s_apply.STATE
  - inferops.kubernetes.k8s_apply.GPU_ADDON
  - inferops.kubernetes.attributes
  - inferops.kubernetes.attributes.ACTION_GROUP
attributes:
  idempotent:
    support: full
notes:
  - In check mode, when the namespace does not exist yet, its objects are reported as to be created.
  - With O(state=absent), a Namespace or RuntimeClass that another field manager also writes (for example
    C(kube-system), or a RuntimeClass made by the cluster) is kept, with only this collection's fields withdrawn
    (for example the Pod Security labels it put on the namespace).
  - Needs C(get), C(patch) and C(delete) on Namespaces, ConfigMaps, DaemonSets and RuntimeClasses, C(get) on
    PriorityClasses, and C(list) on Pods in the namespace. With O(state=absent) and O(runtime_class), also C(list)
    on DaemonSets in all namespaces, to find the other users of the RuntimeClass.
  - A changed config rolls the DaemonSet, because the pod template carries the config's hash.
  - With O(state=absent) the module does not wait for the namespace to finish terminating.
seealso:
  - name: NVIDIA k8s-device-plugin
    description: The plugin, its config file and its sharing options.
    link: https://github.com/NVIDIA/k8s-device-plugin
"""

EXAMPLES = r"""
- name: Deploy the device plugin on every GPU node, whole GPUs
  inferops.kubernetes.device_plugin:
    kubeconfig: "{{ inferops_kubeconfig }}"

- name: MIG mixed strategy, and 1g.10gb slices shared by 2 pods each
  inferops.kubernetes.device_plugin:
    mig_strategy: mixed
    time_slicing:
      replicas: 2
      resources:
        - nvidia.com/mig-1g.10gb

- name: Time-slice L4 GPUs 4 ways as nvidia.com/gpu.shared, on one node pool only
  inferops.kubernetes.device_plugin:
    time_slicing:
      replicas: 4
      rename_by_default: true
      fail_requests_greater_than_one: true
    node_selector:
      node.kubernetes.io/instance-type: g6.12xlarge
    tolerations:
      - key: dedicated
        operator: Equal
        value: inference
        effect: NoSchedule

- name: Remove it
  inferops.kubernetes.device_plugin:
    state: absent
"""

RETURN = r"""
objects:
  description: Each object written (or, with O(state=absent), deleted), in order, and whether it changed.
  returned: always
  type: list
  elements: dict
  sample: [{"ref": "DaemonSet nvidia-device-plugin/nvidia-device-plugin", "changed": true, "created": true}]
config:
  description: The device plugin's config file, as written to the ConfigMap.
  returned: when O(state=present)
  type: str
  sample: "version: v1\nflags:\n  migStrategy: none\n  failOnInitError: true\n"
rollout:
  description:
    - The DaemonSet's counters after the wait (C(desired), C(updated), C(ready), C(available)) and the C(nodes) that run
      the plugin. C(desired) 0 means no node is a GPU node (see the warning).
  returned: when O(state=present) and O(wait), not in check mode
  type: dict
  sample: {"desired": 5, "updated": 5, "ready": 5, "available": 5, "nodes": ["gpu-h100-0", "gpu-t4-0"]}
kept:
  description:
    - Objects O(state=absent) left in place, with the reason - another field manager also manages them, or
      (the RuntimeClass) another DaemonSet still runs under it.
  returned: when O(state=absent)
  type: list
  elements: str
  sample: ["Namespace/kube-system: also managed by kube-apiserver",
           "RuntimeClass/nvidia: still used by DaemonSet nvidia-device-plugin/nvidia-device-plugin"]
diff:
  description: Before and after of each changed object, without server bookkeeping.
  returned: in diff mode, when changed
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.inferops.kubernetes.plugins.module_utils.device_plugin import options
from ansible_collections.inferops.kubernetes.plugins.module_utils.device_plugin.deploy import run_device_plugin
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.runner import api_argument_spec, run_api_module


def main():
    module = AnsibleModule(argument_spec=api_argument_spec(**options.ARGUMENT_SPEC), supports_check_mode=True)
    run_api_module(module, lambda client: run_device_plugin(client, module))


if __name__ == "__main__":
    main()
