"""STAND-IN for the NVIDIA device plugin and the kubelet on one simulated node.

The throwaway Debian host has no GPU and no kubelet, so nothing would tell the API server about
the MIG devices a layout made. This does, the way the real pair does: when the device plugin
pod on the node is restarted (a new pod UID appears), it reads the host's GPUs through NVML calls
(the fake NVML of tests/hosts/fake_gpu/pynvml.py, on the host's state file), counts the devices
the plugin would advertise under the MIG strategy, and writes them to the node's capacity and
allocatable. Then it exits.

The counting is its own, from the MIG devices NVML lists, as the plugin enumerates them: never
the collection's advertised_resources, which the mig role waits on. Were it the same function,
a wrong count there would be written to the node and then found again, and the test could not fail.

    fake_device_plugin.py --kubeconfig K --node N --namespace NS --selector S --state FILE
                          [--strategy mixed] [--seconds 600]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / ".tmp" / "collections"))

from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.resources import classify  # noqa: E402

FAKE_NVML = ROOT / "tests" / "hosts" / "fake_gpu"


def _nvml(state):
    """The fake NVML on that state file, loaded now: it reads the file once, at import."""
    os.environ["INFEROPS_FAKE_NVML_STATE"] = str(state)
    sys.path.insert(0, str(FAKE_NVML))
    before = sys.modules.pop("pynvml", None)
    try:
        import pynvml  # pylint: disable=import-outside-toplevel
    finally:
        sys.path.remove(str(FAKE_NVML))
        # whoever imported the real nvidia-ml-py before keeps it
        if before is not None:
            sys.modules["pynvml"] = before
        else:
            sys.modules.pop("pynvml", None)
    return pynvml


def _gpu_instance_profiles(nv, gpu):
    """{GPU instance id: profile name such as 1g.10gb} of one MIG-enabled GPU."""
    names = {}
    for index in range(nv.NVML_GPU_INSTANCE_PROFILE_COUNT):
        try:
            info = nv.nvmlDeviceGetGpuInstanceProfileInfo(gpu, index, 2)
        except nv.NVMLError:
            continue  # a profile this GPU does not have
        name = info.name.decode() if isinstance(info.name, bytes) else info.name
        instances = (nv.c_nvmlGpuInstance_t * info.instanceCount)()
        count = ctypes.c_uint(0)
        nv.nvmlDeviceGetGpuInstances(gpu, info.id, instances, ctypes.byref(count))
        for instance in instances[: count.value]:
            names[nv.nvmlGpuInstanceGetInfo(instance).id] = name.replace("MIG ", "", 1)
    return names


def resources_from_state(path, strategy):
    """What the plugin advertises for the GPUs of that fake NVML state: each MIG device NVML lists
    (nvidia.com/mig-<profile> when mixed, nvidia.com/gpu when single), each GPU without MIG as nvidia.com/gpu."""
    nv = _nvml(path)
    nv.nvmlInit()
    counts = {}
    try:
        for index in range(nv.nvmlDeviceGetCount()):
            gpu = nv.nvmlDeviceGetHandleByIndex(index)
            if strategy == "none" or not nv.nvmlDeviceGetMigMode(gpu)[0]:
                counts["nvidia.com/gpu"] = counts.get("nvidia.com/gpu", 0) + 1
                continue
            profiles = _gpu_instance_profiles(nv, gpu)
            for slot in range(nv.nvmlDeviceGetMaxMigDeviceCount(gpu)):
                try:
                    device = nv.nvmlDeviceGetMigDeviceHandleByIndex(gpu, slot)
                except nv.NVMLError:
                    continue  # an empty slot
                name = "nvidia.com/gpu" if strategy == "single" else "nvidia.com/mig-%s" % profiles[nv.nvmlDeviceGetGpuInstanceId(device)]
                counts[name] = counts.get(name, 0) + 1
    finally:
        nv.nvmlShutdown()
    return counts


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
