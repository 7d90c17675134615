# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MIG layouts in nvidia-mig-parted's `version: v1` format, checked against each GPU's real
profiles and placements, and turned into a plan: which GPUs change, which instances go,
which come. Plain Python over plain dicts (the GPUs as gpu_facts reports them).

A layout file:

    version: v1
    mig-configs:
      all-1g.10gb:
        - devices: all                 # or a list of GPU indexes
          device-filter: ["0x20B510DE"] # optional: PCI device ids (device << 16 | vendor)
          mig-enabled: true
          mig-devices:
            "1g.10gb": 7
"""

from __future__ import annotations

import itertools
from typing import Dict

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.errors import InferopsError
from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.resources import GPU, GPU_INSTANCE_PROFILE, MIG_STRATEGIES, mig_resource

try:
    import yaml

    class _UniqueKeyLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
        """Refuses a mapping with the same key twice (PyYAML would keep the last one silently)."""

        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _value in node.value:
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    raise LayoutError(
                        "%s appears twice (line %d): names and profiles must be unique" % (key, key_node.start_mark.line + 1)
                    )
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    HAS_YAML = True
except ImportError:
    HAS_YAML = False

# mig-parted also names compute-instance profiles such as 1c.3g.40gb; this collection
# creates one compute instance spanning each GPU instance.


class LayoutError(InferopsError):
    """A layout that cannot be applied, with the reason and the fix."""


def load_layout_file(text):
    if not HAS_YAML:
        raise LayoutError("PyYAML is needed to read a layout file")
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # nosec B506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise LayoutError("the layout file is not valid YAML: %s" % exc)


def select_layout(document, name):
    """The entries of layout `name` from a mig-parted document, with its structure checked."""
    if not isinstance(document, dict) or document.get("version") != "v1":
        raise LayoutError("layout file: expected `version: v1` at the top (nvidia-mig-parted format)")
    configs = document.get("mig-configs")
    if not isinstance(configs, dict) or not configs:
        raise LayoutError("layout file: `mig-configs` must map layout names to lists of entries")
    if name not in configs:
        raise LayoutError("layout %s is not in the file; it has: %s" % (name, ", ".join(sorted(configs))))
    entries = configs[name]
    if not isinstance(entries, list) or not entries:
        raise LayoutError("mig-configs.%s must be a list of entries with devices, mig-enabled and mig-devices" % name)
    return [_check_entry(entry, "mig-configs.%s[%d]" % (name, i)) for i, entry in enumerate(entries)]


def _check_entry(entry, where):
    if not isinstance(entry, dict):
        raise LayoutError("%s must be a mapping" % where)
    unknown = set(entry) - {"devices", "device-filter", "mig-enabled", "mig-devices"}
    if unknown:
        raise LayoutError("%s: unknown keys %s (allowed: devices, device-filter, mig-enabled, mig-devices)" % (where, ", ".join(sorted(unknown))))
    devices = entry.get("devices", "all")
    if devices != "all" and not (isinstance(devices, list) and all(isinstance(d, int) and not isinstance(d, bool) for d in devices)):
        raise LayoutError("%s.devices must be `all` or a list of GPU indexes, got %r" % (where, devices))
    enabled = entry.get("mig-enabled")
    if not isinstance(enabled, bool):
        raise LayoutError("%s.mig-enabled must be true or false" % where)
    mig_devices = entry.get("mig-devices") or {}
    if not isinstance(mig_devices, dict):
        raise LayoutError("%s.mig-devices must map profile names to counts" % where)
    if not enabled and mig_devices:
        raise LayoutError("%s: mig-enabled is false but mig-devices is set; MIG devices need MIG mode. "
                          "Set mig-enabled: true or remove mig-devices." % where)
    for profile, count in mig_devices.items():
        if not GPU_INSTANCE_PROFILE.match(str(profile)):
            raise LayoutError("%s.mig-devices: %r is not a GPU instance profile name such as 1g.10gb or 3g.40gb "
                              "(compute-instance profiles like 1c.3g.40gb are not supported)" % (where, profile))
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise LayoutError("%s.mig-devices.%s must be a whole number of at least 0, got %r" % (where, profile, count))
    device_filter = entry.get("device-filter")
    if device_filter is not None:
        filters = device_filter if isinstance(device_filter, list) else [device_filter]
        if not all(isinstance(f, str) for f in filters):
            raise LayoutError("%s.device-filter must be a PCI device id such as 0x20B510DE, or a list of them" % where)
        device_filter = [f.upper().replace("0X", "0x") for f in filters]
    return {"devices": devices, "device_filter": device_filter, "mig_enabled": enabled,
            "mig_devices": {str(k): v for k, v in mig_devices.items() if v}}


def assign(entries, gpus):
    """{gpu index: entry} for every GPU an entry selects; errors for indexes and filters that select nothing."""
    by_index = {g["index"]: g for g in gpus}
    chosen = {}
    for number, entry in enumerate(entries):
        if entry["devices"] == "all":
            candidates = list(by_index)
        else:
            missing = [d for d in entry["devices"] if d not in by_index]
            if missing:
                raise LayoutError("entry %d: GPU index %s out of range; this host has GPUs %s"
                                  % (number, ", ".join(map(str, missing)), ", ".join(map(str, sorted(by_index))) or "none"))
            candidates = list(entry["devices"])
        if entry["device_filter"]:
            # An entry for another GPU model selects nothing here: layouts such as NVIDIA's own
            # all-balanced carry one entry per model, and nvidia-mig-parted skips the others too.
            candidates = [i for i in candidates if by_index[i]["pci_device_id"] in entry["device_filter"]]
        for index in candidates:
            chosen[index] = entry  # a later entry wins, as in nvidia-mig-parted
    if not chosen:
        filters = sorted({f for e in entries for f in e["device_filter"] or []})
        present = sorted({g["pci_device_id"] for g in gpus})
        raise LayoutError("the layout selects no GPU on this host: its device-filter %s matches none of the GPUs here (%s)"
                          % (", ".join(filters) or "(none)", ", ".join(present) or "none"))
    return chosen


def _overlaps(a, b):
    return a["start"] < b["start"] + b["size"] and b["start"] < a["start"] + a["size"]


def _place(wanted, profiles, fixed):
    """Placements for the wanted profile names around the fixed ones; None if they do not fit."""
    order = sorted(wanted, key=lambda name: -profiles[name]["slices"])
    taken = list(fixed)
    result = []

    def search(i):
        if i == len(order):
            return True
        for spot in profiles[order[i]]["placements"]:
            if not any(_overlaps(spot, t) for t in taken):
                taken.append(spot)
                result.append({"profile": order[i], "placement": dict(spot)})
                if search(i + 1):
                    return True
                taken.pop()
                result.pop()
        return False

    return result if search(0) else None


def _keep_most(existing, wanted, profiles):
    """Keep as many existing instances as the layout allows, so a second run changes nothing and a
    small edit moves little: the largest set of wanted instances around which the rest still fit."""
    candidates = [i for i in existing if i["profile"] in wanted]
    for size in range(min(len(candidates), len(wanted)), -1, -1):
        for keep in itertools.combinations(candidates, size):
            remaining = list(wanted)
            try:
                for instance in keep:
                    remaining.remove(instance["profile"])
            except ValueError:
                continue  # keeps more of one profile than the layout wants
            placed = _place(remaining, profiles, [k["placement"] for k in keep])
            if placed is not None:
                return list(keep), placed
    return [], None


def plan_gpu(gpu, entry):
    """What must happen on one GPU to reach the entry: {changed, mig_mode, destroy, create, keep}."""
    label = "GPU %d (%s)" % (gpu["index"], gpu["name"])
    current = gpu["mig_mode"]["current"]
    pending = gpu["mig_mode"]["pending"]
    if not gpu["mig_capable"]:
        if entry["mig_enabled"]:
            raise LayoutError("%s does not support MIG" % label)
        return {"index": gpu["index"], "changed": False, "mig_mode": {"current": None, "desired": None}, "destroy": [], "create": [], "keep": []}
    existing = [{"profile": d["profile"], "placement": d["placement"], "gpu_instance_id": d["gpu_instance_id"]} for d in gpu["mig_devices"]]
    if not entry["mig_enabled"]:
        return {"index": gpu["index"], "changed": bool(current or pending or existing),
                "mig_mode": {"current": current, "desired": False}, "destroy": existing, "create": [], "keep": []}

    profiles = {p["name"]: p for p in gpu["mig_profiles"]}
    if not profiles and not entry["mig_devices"]:
        return {"index": gpu["index"], "changed": bool(existing or not current),
                "mig_mode": {"current": current, "desired": True}, "destroy": existing, "create": [], "keep": []}
    if not profiles:
        raise LayoutError("%s reports no MIG profiles through NVML%s" % (
            label, "" if current else "; MIG mode is off, enable it (a layout with mig-enabled: true and no mig-devices) and retry"))
    wanted = []
    for name, count in entry["mig_devices"].items():
        if name not in profiles:
            supported = sorted(profiles, key=lambda n: (profiles[n]["slices"], n))
            raise LayoutError("%s has no MIG profile %s; it supports: %s" % (label, name, ", ".join(supported)))
        if count > profiles[name]["max_count"]:
            raise LayoutError("%s: %s at most %d per GPU, the layout asks for %d" % (label, name, profiles[name]["max_count"], count))
        wanted.extend([name] * count)

    keep, placed = _keep_most(existing, wanted, profiles)
    if placed is None:
        slices = sum(profiles[n]["slices"] for n in wanted)
        raise LayoutError("%s: %s do not fit together (%d compute slices asked; the placements NVML allows for these "
                          "profiles cannot hold them all). Use fewer or smaller instances."
                          % (label, ", ".join("%dx %s" % (wanted.count(n), n) for n in sorted(set(wanted))), slices))
    destroy = [i for i in existing if i not in keep]
    return {
        "index": gpu["index"],
        "changed": bool(destroy or placed or not current),
        "mig_mode": {"current": current, "desired": True},
        "destroy": destroy,
        "create": placed,
        "keep": keep,
    }


def plan(entries, gpus):
    """The plan for every selected GPU, validated as a whole before anything is touched."""
    chosen = assign(entries, gpus)
    by_index = {g["index"]: g for g in gpus}
    return [plan_gpu(by_index[i], chosen[i]) for i in sorted(chosen)]


def advertised_resources(gpus, strategy):
    """What the NVIDIA device plugin advertises for these GPUs (gpu_facts' `gpus`) under a MIG strategy.

    none: every GPU as nvidia.com/gpu; single: every MIG device as nvidia.com/gpu (all GPUs must be
    MIG-enabled with one profile, or the plugin refuses to start); mixed: MIG devices as
    nvidia.com/mig-<profile>, GPUs without MIG as nvidia.com/gpu.
    """
    if strategy not in MIG_STRATEGIES:
        raise LayoutError("mig_strategy: %r is not one of %s" % (strategy, ", ".join(MIG_STRATEGIES)))
    counts: Dict[str, int] = {}

    def add(name, number=1):
        counts[name] = counts.get(name, 0) + number

    if strategy == "none":
        add(GPU, len(gpus))
        return counts
    profiles = set()
    for gpu in gpus:
        devices = gpu.get("mig_devices") or []
        if gpu["mig_mode"]["current"]:
            for device in devices:
                profiles.add(device["profile"])
                add(GPU if strategy == "single" else mig_resource(device["profile"]))
        elif strategy == "single":
            raise LayoutError("mig_strategy single: GPU %d has MIG disabled; the single strategy needs MIG on every GPU "
                              "(use mixed)" % gpu["index"])
        else:
            add(GPU)
    if strategy == "single" and len(profiles) > 1:
        raise LayoutError("mig_strategy single: the GPUs carry %s; the single strategy needs one profile on every GPU "
                          "(use mixed)" % ", ".join(sorted(profiles)))
    return counts
