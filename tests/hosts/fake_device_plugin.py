"""STAND-IN for the NVIDIA device plugin and the kubelet on one simulated node.

The throwaway Debian host has no GPU and no kubelet, so nothing would tell the API server about
the MIG devices a layout made. This does, the way the real pair does: when the device plugin
pod on the node is restarted (a new pod UID appears), it reads the host's GPUs (the fake NVML
state file of tests/hosts/fake_gpu/pynvml.py), counts the resources the plugin would advertise
under the MIG strategy, and writes them to the node's capacity and allocatable. Then it exits.

    fake_device_plugin.py --kubeconfig K --node N --namespace NS --selector S --state FILE
                          [--strategy mixed] [--seconds 600]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / ".tmp" / "collections"))

from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.resources import classify  # noqa: E402
from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.mig import advertised_resources  # noqa: E402


def resources_from_state(path, strategy):
    state = json.loads(Path(path).read_text(encoding="utf-8"))
    gpus = [{"index": i, "mig_mode": {"current": bool(g.get("mig"))},
             "mig_devices": [{"profile": p} for p, _start in g.get("instances", [])]}
            for i, g in enumerate(state["gpus"])]
    return advertised_resources(gpus, strategy)


def main(argv=None):
    parser = argparse.ArgumentParser()
    for flag in ("--kubeconfig", "--node", "--namespace", "--selector", "--state"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--strategy", default="mixed")
    parser.add_argument("--seconds", type=float, default=600)
    args = parser.parse_args(argv)

    from kubernetes import client, config  # pylint: disable=import-outside-toplevel

    core = client.CoreV1Api(config.new_client_from_config(config_file=args.kubeconfig))

    def plugin_pods():
        pods = core.list_namespaced_pod(args.namespace, label_selector=args.selector,
                                        field_selector="spec.nodeName=%s" % args.node).items
        return {p.metadata.uid for p in pods if p.metadata.deletion_timestamp is None}

    seen = plugin_pods()
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        time.sleep(0.5)
        if plugin_pods() - seen:
            advertised = resources_from_state(args.state, args.strategy)
            node = core.read_node(args.node)
            stale = {k: None for k in (node.status.capacity or {}) if classify(k) and k not in advertised}
            values = dict(stale, **{k: str(v) for k, v in advertised.items()})
            core.patch_node_status(args.node, {"status": {"capacity": values, "allocatable": values}})
            print(json.dumps({"node": args.node, "advertised": advertised}))
            return 0
    print("no device plugin restart on %s within %ss" % (args.node, args.seconds), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
