# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the cluster holds of the device plugin in one namespace, read with the kubernetes package alone.

Molecule's verify asserts on this, so that it checks the role's promise against the API and not
against what the collection's own device_plugin module says about itself. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json

import yaml
from kubernetes import client, config

GPU_NODE_LABELS = ("nvidia.com/gpu.present", "feature.node.kubernetes.io/pci-10de.present")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--namespace", required=True)
    args = parser.parse_args()
    api = config.new_client_from_config(config_file=args.kubeconfig)
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)

    nodes = core.list_node().items
    gpu_nodes = sorted(n.metadata.name for n in nodes
                       if any((n.metadata.labels or {}).get(label) == "true" for label in GPU_NODE_LABELS))
    pods = core.list_namespaced_pod(args.namespace, label_selector="app.kubernetes.io/name=nvidia-device-plugin").items
    ready_nodes = sorted(p.spec.node_name for p in pods if p.spec.node_name and any(
        c.type == "Ready" and c.status == "True" for c in (p.status.conditions or [])))
    daemonsets = apps.list_namespaced_daemon_set(args.namespace).items
    config_maps = core.list_namespaced_config_map(args.namespace).items
    plugin_config = [yaml.safe_load(c.data["config.yaml"]) for c in config_maps if "config.yaml" in (c.data or {})]
    print(json.dumps({
        "gpu_nodes": gpu_nodes,
        "all_nodes": sorted(n.metadata.name for n in nodes),
        "pod_nodes": sorted(p.spec.node_name or "" for p in pods),
        "ready_nodes": ready_nodes,
        "runtime_class_names": sorted({p.spec.runtime_class_name or "" for p in pods}),
        "daemonsets": [{
            "name": d.metadata.name,
            "desired": d.status.desired_number_scheduled,
            "available": d.status.number_available or 0,
            "current": (d.status.observed_generation or 0) >= (d.metadata.generation or 0),
        } for d in daemonsets],
        "configs": plugin_config,
    }))


if __name__ == "__main__":
    main()
