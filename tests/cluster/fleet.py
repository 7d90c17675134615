"""Create the simulated GPU fleet (tests/cluster/fleet.yaml) as kwok nodes.

    fleet.py apply --kubeconfig PATH [--count GROUP=N ...]   create or update the nodes
                   [--create-only]                          (or only create the missing ones)
    fleet.py render [--count GROUP=N ...]                    print the Node objects as YAML
    fleet.py delete --kubeconfig PATH [--group GROUP]        delete fleet nodes

Nodes carry the annotation kwok manages (`kwok.x-k8s.io/node: fake`), so kwok keeps
them Ready and runs the pods the scheduler binds to them.
"""

from __future__ import annotations

import argparse
import copy
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
FLEET_FILE = HERE / "fleet.yaml"
FLEET_LABEL = "inferops.test/fleet-group"
KWOK_ANNOTATION = "kwok.x-k8s.io/node"


def gfd_labels(gpu, driver, cuda):
    """The labels GPU feature discovery puts on a node with this GPU."""
    major, minor = gpu["compute"].split(".")
    d_major, d_minor, d_rev = (driver.split(".") + ["0", "0"])[:3]
    c_major, c_minor = cuda.split(".")[:2]
    sharing = gpu.get("sharing") or {}
    labels = {
        "nvidia.com/gpu.present": "true",
        "nvidia.com/gpu.product": gpu["product"],
        "nvidia.com/gpu.memory": str(gpu["memory_mib"]),
        "nvidia.com/gpu.count": str(gpu["count"]),
        "nvidia.com/gpu.family": gpu["family"],
        "nvidia.com/gpu.compute.major": major,
        "nvidia.com/gpu.compute.minor": minor,
        "nvidia.com/gpu.machine": "simulated",
        "nvidia.com/gpu.replicas": str(sharing.get("replicas", 1)),
        "nvidia.com/gpu.sharing-strategy": sharing.get("strategy", "none"),
        "nvidia.com/mig.capable": str(bool(gpu.get("mig_capable"))).lower(),
        "nvidia.com/mig.strategy": gpu.get("mig_strategy", "none"),
        "nvidia.com/cuda.driver.major": d_major,
        "nvidia.com/cuda.driver.minor": d_minor,
        "nvidia.com/cuda.driver.rev": d_rev,
        "nvidia.com/cuda.driver-version.full": driver,
        "nvidia.com/cuda.runtime.major": c_major,
        "nvidia.com/cuda.runtime.minor": c_minor,
        "nvidia.com/cuda.runtime-version.full": cuda,
    }
    base_product = gpu["product"]
    for profile, mig in (gpu.get("mig") or {}).items():
        labels["nvidia.com/mig-%s.count" % profile] = str(mig["count"])
        labels["nvidia.com/mig-%s.memory" % profile] = str(mig["memory_mib"])
        labels["nvidia.com/mig-%s.product" % profile] = "%s-MIG-%s" % (base_product, profile)
    return labels


def build_nodes(fleet, counts=None):
    """Node objects for every group of the fleet; counts overrides a group's count."""
    counts = counts or {}
    defaults = fleet.get("defaults") or {}
    nodes = []
    for group in fleet["groups"]:
        count = counts.get(group["name"], group.get("count", 1))
        resources = {
            "cpu": str(group.get("cpu", defaults["cpu"])),
            "memory": str(group.get("memory", defaults["memory"])),
            "pods": str(group.get("pods", defaults["pods"])),
            "ephemeral-storage": "1Ti",
        }
        resources.update({k: str(v) for k, v in (group.get("resources") or {}).items()})
        for index in range(count):
            name = "%s-%d" % (group["name"], index)
            labels = {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node.kubernetes.io/instance-type": group.get("instance_type", "simulated"),
                "type": "kwok",
                FLEET_LABEL: group["name"],
            }
            if group.get("gpu"):
                labels.update(gfd_labels(group["gpu"], defaults["driver"], defaults["cuda"]))
            nodes.append({
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "labels": labels,
                    "annotations": {KWOK_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
                },
                "spec": {"taints": copy.deepcopy(group.get("taints") or [])},
                "status": {
                    "allocatable": dict(resources),
                    "capacity": dict(resources),
                    "nodeInfo": {
                        "architecture": "amd64",
                        "operatingSystem": "linux",
                        "kubeletVersion": "fake",
                        "kubeProxyVersion": "fake",
                        "osImage": "simulated",
                        "kernelVersion": "simulated",
                        "containerRuntimeVersion": "simulated",
                        "bootID": "",
                        "machineID": name,
                        "systemUUID": name,
                    },
                    "phase": "Running",
                },
            })
    return nodes


def _core(kubeconfig):
    from kubernetes import client, config

    api_client = config.new_client_from_config(config_file=kubeconfig)
    return client.CoreV1Api(api_client), client


def apply_nodes(kubeconfig, nodes, workers=8, update=True):
    """Create missing nodes; bring existing ones back to the fleet's labels, taints and resources (unless not update)."""
    core, client = _core(kubeconfig)

    def one(node):
        name = node["metadata"]["name"]
        try:
            core.create_node(node)
            return "created"
        except client.exceptions.ApiException as exc:
            if exc.status != 409:
                raise
        if not update:
            return "kept"
        current = core.read_node(name)
        labels = dict(current.metadata.labels or {})
        stale = [k for k in labels if k.startswith("nvidia.com/") and k not in node["metadata"]["labels"]]
        patch = {"metadata": {"labels": dict(node["metadata"]["labels"], **{k: None for k in stale})},
                 "spec": {"taints": node["spec"]["taints"] or None}}
        core.patch_node(name, patch)
        core.patch_node_status(name, {"status": {"capacity": node["status"]["capacity"],
                                                 "allocatable": node["status"]["allocatable"]}})
        return "updated"

    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = list(pool.map(one, nodes))
    return {k: outcomes.count(k) for k in ("created", "updated", "kept")}


def delete_nodes(kubeconfig, group=None):
    core, _client = _core(kubeconfig)
    selector = "%s=%s" % (FLEET_LABEL, group) if group else FLEET_LABEL
    names = [n.metadata.name for n in core.list_node(label_selector=selector).items]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(core.delete_node, names))
    return len(names)


def _counts(pairs):
    counts = {}
    for pair in pairs or []:
        name, _sep, value = pair.partition("=")
        if not value.isdigit():
            raise SystemExit("--count expects GROUP=N with N a whole number, got %r" % pair)
        counts[name] = int(value)
    return counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["apply", "render", "delete"])
    parser.add_argument("--kubeconfig")
    parser.add_argument("--fleet", default=str(FLEET_FILE))
    parser.add_argument("--count", action="append", metavar="GROUP=N", help="override a group's node count")
    parser.add_argument("--group", help="delete only this group's nodes")
    parser.add_argument("--create-only", action="store_true", help="apply: leave nodes that exist as they are")
    args = parser.parse_args(argv)
    fleet = yaml.safe_load(Path(args.fleet).read_text())
    counts = _counts(args.count)
    unknown = set(counts) - {g["name"] for g in fleet["groups"]}
    if unknown:
        raise SystemExit("--count names unknown groups: %s" % ", ".join(sorted(unknown)))
    if args.action == "render":
        yaml.safe_dump_all(build_nodes(fleet, counts), sys.stdout, sort_keys=False)
        return 0
    if not args.kubeconfig:
        raise SystemExit("%s needs --kubeconfig" % args.action)
    if args.action == "apply":
        nodes = build_nodes(fleet, counts)
        outcome = apply_nodes(args.kubeconfig, nodes, update=not args.create_only)
        print("fleet: %d nodes (%d created, %d updated, %d kept)" % (len(nodes), outcome["created"], outcome["updated"], outcome["kept"]),
              file=sys.stderr)
    else:
        print("fleet: deleted %d nodes" % delete_nodes(args.kubeconfig, args.group), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
