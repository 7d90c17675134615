# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""mig_config's run: read the GPUs, plan the layout, refuse busy GPUs, apply through NVML."""

from __future__ import annotations

from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.mig import LayoutError, plan
from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.nvml import Nvml


def _describe(instances):
    return sorted("%s@%d" % (i["profile"], i["placement"]["start"]) for i in instances)


def diff_of(steps):
    """Before/after per changed GPU, as profile@start lists and MIG mode."""
    before, after = {}, {}
    for step in steps:
        if not step["changed"]:
            continue
        key = "gpu%d" % step["index"]
        before[key] = {"mig_enabled": step["mig_mode"]["current"], "instances": _describe(step["keep"] + step["destroy"])}
        after[key] = {"mig_enabled": step["mig_mode"]["desired"], "instances": _describe(step["keep"] + step["create"])}
    return {"before": before, "after": after}


def run(pynvml, entries, check_mode, allow_busy):
    """Plan and (unless check_mode) apply. Returns {changed, plan, reset_required, diff}; raises LayoutError."""
    with Nvml(pynvml) as nvml:
        handles = nvml.handles()
        gpus = [nvml.gpu(i, h) for i, h in enumerate(handles)]
        steps = plan(entries, gpus)
        changing = [s for s in steps if s["changed"]]
        busy = [g for g in gpus if g["processes"] and any(s["index"] == g["index"] for s in changing)]
        if busy and not allow_busy:
            raise LayoutError(
                "GPU %s %s running processes; changing MIG would kill them. Drain the node's GPU pods first "
                "(the mig role does), or set allow_busy=true." % (
                    ", ".join(str(g["index"]) for g in busy), "has" if len(busy) == 1 else "have")
            )
        reset_required = []
        if not check_mode:
            for step in changing:
                try:
                    if not _apply(nvml, handles[step["index"]], gpus[step["index"]], step):
                        reset_required.append(step["index"])
                except pynvml.NVMLError as exc:
                    # The driver has the last word (a process that appeared, a GPU in use):
                    # say which GPU and that a re-run re-plans from whatever state it is in now.
                    raise LayoutError("GPU %d: NVML refused the change (%s); GPUs before it were changed, this one may be "
                                      "partly changed. Free the GPU and run again: the plan starts from what is there."
                                      % (step["index"], exc))
    return {"changed": bool(changing), "plan": steps, "reset_required": reset_required, "diff": diff_of(steps)}


def _apply(nvml, handle, gpu, step):
    """Apply one GPU's step. False when MIG mode waits for a GPU reset, so instances cannot be made yet."""
    desired = step["mig_mode"]["desired"]
    by_id = {i["gi_id"]: i["handle"] for i in nvml.gpu_instances(handle, gpu["mig_profiles"])} if gpu["mig_mode"]["current"] else {}
    for instance in step["destroy"]:
        nvml.destroy_gpu_instance(by_id[instance["gpu_instance_id"]])
    if step["mig_mode"]["current"] != desired:
        if not nvml.set_mig_mode(handle, desired):
            return False
    if desired:
        profiles = {p["name"]: p for p in gpu["mig_profiles"]}
        for instance in step["create"]:
            nvml.create_gpu_instance(handle, profiles[instance["profile"]], instance["placement"])
    return True
