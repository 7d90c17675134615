#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dcgm_exporter
short_description: Deploy NVIDIA's DCGM exporter on GPU nodes, with pod attribution and a ServiceMonitor
version_added: 0.1.0
description:
  - Deploys NVIDIA's dcgm-exporter, which serves each GPU's DCGM fields (utilisation, memory, power, clocks, XID
    errors, ...) as Prometheus series named after the fields, for example C(DCGM_FI_DEV_GPU_UTIL).
  - Writes a Namespace labelled for privileged pods (the exporter mounts the kubelet's pod-resources directory from
    the host and runs as root with C(CAP_SYS_ADMIN) for DCGM's profiling fields), a ConfigMap with the counters file,
    the DaemonSet pinned to an image version, a Service (port 9400, named C(metrics)) and a prometheus-operator
    ServiceMonitor.
  - Pod attribution is on. The exporter runs in Kubernetes mode and reads the kubelet's pod-resources API, so the
    series of a GPU that a container holds carry C(namespace), C(pod) and C(container) labels. The ServiceMonitor
    sets C(honorLabels), so that Prometheus keeps those labels instead of renaming them C(exported_namespace),
    C(exported_pod) and C(exported_container) in favour of the exporter pod's own.
  - The DaemonSet runs on GPU nodes only (label V(nvidia.com/gpu.present=true), or Node Feature Discovery's
    V(feature.node.kubernetes.io/pci-10de.present=true)) and tolerates the V(nvidia.com/gpu) NoSchedule taint and
    V(CriticalAddonsOnly).
  - Every option is checked before anything is written; a wrong one fails with a message that names it and says what
    to do. The image tag V(latest), or no tag, is refused, and so is an empty O(service_monitor_labels) while
    O(service_monitor) is on.
  - With O(wait), waits until every targeted node runs an available pod of the current DaemonSet template; on timeout
    the message carries the DaemonSet's counters and each unready pod's reason.
author:
  - inferops.kubernetes maintainers (@inferops)
options:
  namespace:
    description:
      - Namespace of the exporter's objects. Created when missing, and labelled
        C(pod-security.kubernetes.io/enforce=privileged) (also C(audit) and C(warn)).
    type: str
    default: nvidia-dcgm-exporter
  image:
    description:
      - The dcgm-exporter image, with a pinned tag or digest. V(latest) and an image without a tag are refused.
      - The default is the image of dcgm-exporter's own manifest at its tag C(4.5.3-4.8.2).
    type: str
    default: nvcr.io/nvidia/k8s/dcgm-exporter:4.5.3-4.8.2-distroless
  counters:
    description:
      - The DCGM fields to export, written to the exporter's counters file. Each field becomes a series of that name.
      - Leave out for dcgm-exporter's own default counters of the default image (its C(etc/default-counters.csv)).
      - A field name must be a C(DCGM_FI_*) (or C(DCGM_EXP_*)) name; a list of only V(label) fields is refused.
    type: list
    elements: dict
    suboptions:
      field:
        description:
          - The DCGM field, for example V(DCGM_FI_DEV_GPU_UTIL).
        type: str
        required: true
      type:
        description:
          - The Prometheus type of the series, or V(label) for a field added as a label to every series of the GPU
            (for example V(DCGM_FI_DRIVER_VERSION)).
        type: str
        required: true
        choices: [gauge, counter, label]
      help:
        description:
          - The series' help text, one line.
        type: str
        required: true
  collect_interval_ms:
    description:
      - How often the exporter reads the fields from DCGM, in milliseconds. Below 100 is refused.
    type: int
    default: 30000
  pod_resources_dir:
    description:
      - The kubelet's pod-resources directory on the nodes (where its C(kubelet.sock) is), mounted read-only into the
        exporter for pod attribution. Change it only where the kubelet runs with another C(--root-dir).
    type: path
    default: /var/lib/kubelet/pod-resources
  runtime_class_name:
    description:
      - RuntimeClass of the exporter's pods, through which the NVIDIA runtime gives it the GPUs and NVML. It must
        exist (M(inferops.kubernetes.device_plugin) writes V(nvidia)).
      - An empty string sets none, where the NVIDIA runtime is the GPU nodes' default.
    type: str
    default: nvidia
  service_monitor:
    description:
      - Write a prometheus-operator ServiceMonitor (C(monitoring.coreos.com/v1)) for the Service. Its kind must be
        served (the prometheus-operator CRDs installed).
    type: bool
    default: true
  service_monitor_labels:
    description:
      - Labels put on the ServiceMonitor, so that your Prometheus's C(serviceMonitorSelector) selects it; for
        kube-prometheus-stack, C(release) set to the Helm release's name.
      - Required (not empty) while O(service_monitor) is on. Values are strings; an unquoted YAML V(true) is refused.
    type: dict
    default: {}
  scrape_interval:
    description:
      - The ServiceMonitor's scrape interval, a Prometheus duration. Faster than O(collect_interval_ms) only repeats
        the same values.
    type: str
    default: 30s
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
  - A changed counters list rolls the DaemonSet, because the pod template carries the file's hash (the exporter reads
    it once, at start).
  - Needs C(get), C(patch) and C(delete) on Namespaces, ConfigMaps, DaemonSets, Services and ServiceMonitors, C(get)
    on RuntimeClasses, and C(list) on Pods in the namespace.
  - The exporter's pods get no service account token; C(DCGM_EXPORTER_KUBERNETES_ENABLE_POD_LABELS) (the GPU owner's
    own pod labels on its series) is not set, because it would need RBAC to read pods.
  - To check pod attribution, query for example C(DCGM_FI_DEV_GPU_UTIL{pod!=""}) in Prometheus while a pod holds a
    GPU; see the collection's docs/monitoring.md.
  - With O(state=absent) the module does not wait for the namespace to finish terminating.
seealso:
  - name: NVIDIA dcgm-exporter
    description: The exporter, its counters file and its Kubernetes mode.
    link: https://github.com/NVIDIA/dcgm-exporter
  - module: inferops.kubernetes.device_plugin
"""

EXAMPLES = r"""
- name: Export GPU metrics for kube-prometheus-stack installed as release monitoring
  inferops.kubernetes.dcgm_exporter:
    kubeconfig: "{{ inferops_kubeconfig }}"
    service_monitor_labels:
      release: monitoring

- name: Only utilisation, memory and XID errors, every 10 seconds, on one node pool
  inferops.kubernetes.dcgm_exporter:
    service_monitor_labels:
      release: monitoring
    collect_interval_ms: 10000
    scrape_interval: 10s
    counters:
      - {field: DCGM_FI_DEV_GPU_UTIL, type: gauge, help: GPU utilization (in %).}
      - {field: DCGM_FI_DEV_FB_USED, type: gauge, help: Framebuffer memory used (in MiB).}
      - {field: DCGM_FI_DEV_XID_ERRORS, type: gauge, help: Value of the last XID error encountered.}
    node_selector:
      node.kubernetes.io/instance-type: p5.48xlarge

- name: No prometheus-operator; Prometheus scrapes the Service by its own configuration
  inferops.kubernetes.dcgm_exporter:
    service_monitor: false

- name: Remove it
  inferops.kubernetes.dcgm_exporter:
    state: absent
"""

RETURN = r"""
objects:
  description: Each object written (or, with O(state=absent), deleted), in order, and whether it changed.
  returned: always
  type: list
  elements: dict
  sample: [{"ref": "DaemonSet nvidia-dcgm-exporter/dcgm-exporter", "changed": true, "created": true}]
counters:
  description: The DCGM fields the exporter collects, as written to its counters file.
  returned: when O(state=present)
  type: list
  elements: str
  sample: ["DCGM_FI_DEV_SM_CLOCK", "DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED"]
rollout:
  description:
    - The DaemonSet's counters after the wait (C(desired), C(updated), C(ready), C(available)) and the C(nodes) that run
      the exporter. C(desired) 0 means no node is a GPU node (see the warning).
  returned: when O(state=present) and O(wait), not in check mode
  type: dict
  sample: {"desired": 2, "updated": 2, "ready": 2, "available": 2, "nodes": ["gpu-h100-0", "gpu-t4-0"]}
kept:
  description: Objects O(state=absent) left in place because another field manager also manages them, with the reason.
  returned: when O(state=absent)
  type: list
  elements: str
  sample: ["Namespace/monitoring: also managed by kubectl"]
diff:
  description: Before and after of each changed object, without server bookkeeping.
  returned: in diff mode, when changed
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.inferops.kubernetes.plugins.module_utils.dcgm_exporter import options
from ansible_collections.inferops.kubernetes.plugins.module_utils.dcgm_exporter.deploy import run_dcgm_exporter
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.runner import api_argument_spec, run_api_module


def main():
    module = AnsibleModule(argument_spec=api_argument_spec(**options.ARGUMENT_SPEC), supports_check_mode=True)
    run_api_module(module, lambda client: run_dcgm_exporter(client, module))


if __name__ == "__main__":
    main()
