# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading (and, for mig_config, changing) NVIDIA GPUs through NVML (nvidia-ml-py).

Everything about MIG comes from the device itself: profile names, sizes, counts and
placements are asked of NVML, never looked up in a table, so a GPU this code has never
seen (H200, B200, ...) is handled the same way.

`pynvml` is passed in (`Nvml(module)`), so unit tests use a fake module with real
device data and nothing here needs a GPU to be tested.
"""

from __future__ import annotations

import ctypes
from typing import Dict, List

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.errors import InferopsError

COMPUTE_MODES = {0: "Default", 1: "Exclusive_Thread", 2: "Prohibited", 3: "Exclusive_Process"}

# Compute instance profile that spans a whole GPU instance of N slices.
FULL_CI_PROFILE = {1: 0x0, 2: 0x1, 3: 0x2, 4: 0x3, 7: 0x4, 8: 0x5, 6: 0x6}


class NvmlUnavailable(InferopsError):
    """No usable NVIDIA driver: the reason is said plainly, no traceback."""


def _text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def profile_short_name(nvml_name):
    """'MIG 1g.10gb' -> '1g.10gb'."""
    name = _text(nvml_name).strip()
    return name[4:] if name.startswith("MIG ") else name


class Nvml:
    """A session with NVML: init on enter, shutdown on exit."""

    def __init__(self, pynvml):
        self.nv = pynvml

    def __enter__(self):
        nv = self.nv
        try:
            nv.nvmlInit()
        except nv.NVMLError as exc:
            raise NvmlUnavailable(self._explain(exc))
        return self

    def __exit__(self, *exc):
        try:
            self.nv.nvmlShutdown()
        except self.nv.NVMLError:
            pass
        return False

    def _explain(self, exc):
        nv = self.nv
        code = getattr(exc, "value", None)
        if code == nv.NVML_ERROR_LIBRARY_NOT_FOUND:
            return "the NVIDIA driver is not installed (libnvidia-ml.so.1 not found)"
        if code == nv.NVML_ERROR_DRIVER_NOT_LOADED:
            return "the NVIDIA driver is installed but its kernel module is not loaded (no GPU, or a reboot is pending)"
        if code == nv.NVML_ERROR_NO_PERMISSION:
            return "no permission to talk to the NVIDIA driver (run as root)"
        return "NVML could not be initialised: %s" % exc

    # --- reading -------------------------------------------------------------

    def driver_versions(self):
        nv = self.nv
        driver = _text(nv.nvmlSystemGetDriverVersion())
        cuda = nv.nvmlSystemGetCudaDriverVersion()
        return driver, "%d.%d" % (cuda // 1000, (cuda % 1000) // 10)

    def handles(self):
        nv = self.nv
        return [nv.nvmlDeviceGetHandleByIndex(i) for i in range(nv.nvmlDeviceGetCount())]

    def mig_mode(self, handle):
        """(current, pending) as booleans, or (None, None) when the GPU has no MIG."""
        nv = self.nv
        try:
            current, pending = nv.nvmlDeviceGetMigMode(handle)
        except nv.NVMLError as exc:
            if getattr(exc, "value", None) == nv.NVML_ERROR_NOT_SUPPORTED:
                return None, None
            raise
        return current == nv.NVML_DEVICE_MIG_ENABLE, pending == nv.NVML_DEVICE_MIG_ENABLE

    def mig_profiles(self, handle):
        """The GPU instance profiles the device supports, with counts, memory and placements."""
        nv = self.nv
        profiles = []
        for index in range(nv.NVML_GPU_INSTANCE_PROFILE_COUNT):
            try:
                info = nv.nvmlDeviceGetGpuInstanceProfileInfo(handle, index)
            except nv.NVMLError:
                continue  # profile not supported by this device (or no MIG at all)
            if not info.instanceCount:
                continue
            profiles.append({
                "name": profile_short_name(info.name),
                "profile_index": index,
                "id": info.id,
                "slices": info.sliceCount,
                "max_count": info.instanceCount,
                "memory_mib": info.memorySizeMB,
                "multiprocessors": info.multiprocessorCount,
                "placements": self._placements(handle, info.id),
            })
        return profiles

    def _placements(self, handle, profile_id):
        nv = self.nv
        count = ctypes.c_uint(0)
        try:
            nv.nvmlDeviceGetGpuInstancePossiblePlacements(handle, profile_id, None, ctypes.byref(count))
            array = (nv.c_nvmlGpuInstancePlacement_t * count.value)()
            nv.nvmlDeviceGetGpuInstancePossiblePlacements(handle, profile_id, array, ctypes.byref(count))
        except nv.NVMLError:
            return []
        return [{"start": p.start, "size": p.size} for p in array[: count.value]]

    def gpu_instances(self, handle, profiles):
        """The GPU instances that exist now: [{gi_id, profile, placement, handle}]."""
        nv = self.nv
        found = []
        for profile in profiles:
            array = (nv.c_nvmlGpuInstance_t * profile["max_count"])()
            count = ctypes.c_uint(0)
            try:
                nv.nvmlDeviceGetGpuInstances(handle, profile["id"], array, ctypes.byref(count))
            except nv.NVMLError:
                continue
            for gi in array[: count.value]:
                info = nv.nvmlGpuInstanceGetInfo(gi)
                found.append({
                    "gi_id": info.id,
                    "profile": profile["name"],
                    "placement": {"start": info.placement.start, "size": info.placement.size},
                    "handle": gi,
                })
        return sorted(found, key=lambda g: g["placement"]["start"])

    def mig_device_uuids(self, handle):
        """{gpu instance id: [MIG device UUIDs]}."""
        nv = self.nv
        uuids: Dict[int, List[str]] = {}
        try:
            maximum = nv.nvmlDeviceGetMaxMigDeviceCount(handle)
        except nv.NVMLError:
            return uuids
        for index in range(maximum):
            try:
                mig = nv.nvmlDeviceGetMigDeviceHandleByIndex(handle, index)
            except nv.NVMLError:
                continue  # that slot holds no MIG device
            uuids.setdefault(nv.nvmlDeviceGetGpuInstanceId(mig), []).append(_text(nv.nvmlDeviceGetUUID(mig)))
        return uuids

    def processes(self, handle):
        nv = self.nv
        try:
            return [p.pid for p in nv.nvmlDeviceGetComputeRunningProcesses(handle)]
        except nv.NVMLError:
            return []

    def gpu(self, index, handle):
        """Everything gpu_facts reports about one GPU."""
        nv = self.nv
        memory = nv.nvmlDeviceGetMemoryInfo(handle)
        pci = nv.nvmlDeviceGetPciInfo(handle)
        current, pending = self.mig_mode(handle)
        profiles = self.mig_profiles(handle) if current is not None else []
        devices = []
        if current:
            uuids = self.mig_device_uuids(handle)
            for gi in self.gpu_instances(handle, profiles):
                devices.append({
                    "gpu_instance_id": gi["gi_id"],
                    "profile": gi["profile"],
                    "placement": gi["placement"],
                    "uuids": uuids.get(gi["gi_id"], []),
                })
        return {
            "index": index,
            "uuid": _text(nv.nvmlDeviceGetUUID(handle)),
            "name": _text(nv.nvmlDeviceGetName(handle)),
            "memory_total_mib": memory.total // (1024 * 1024),
            "memory_used_mib": memory.used // (1024 * 1024),
            "pci_bus_id": _text(pci.busId),
            "pci_device_id": "0x%08X" % pci.pciDeviceId,
            "compute_mode": COMPUTE_MODES.get(nv.nvmlDeviceGetComputeMode(handle), "Unknown"),
            "mig_capable": current is not None,
            "mig_mode": {"current": current, "pending": pending},
            "mig_devices": devices,
            "mig_profiles": profiles,
            "processes": len(self.processes(handle)),
        }

    # --- changing (mig_config only) ---------------------------------------------

    def set_mig_mode(self, handle, enabled):
        """Set MIG mode; return True when it took effect, False when a GPU reset is needed first."""
        nv = self.nv
        nv.nvmlDeviceSetMigMode(handle, nv.NVML_DEVICE_MIG_ENABLE if enabled else nv.NVML_DEVICE_MIG_DISABLE)
        current, _pending = self.mig_mode(handle)
        return current == enabled

    def destroy_gpu_instance(self, gi_handle):
        """Destroy a GPU instance and the compute instances in it."""
        nv = self.nv
        for ci_profile in range(nv.NVML_COMPUTE_INSTANCE_PROFILE_COUNT):
            try:
                info = nv.nvmlGpuInstanceGetComputeInstanceProfileInfo(gi_handle, ci_profile, nv.NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED)
            except nv.NVMLError:
                continue
            array = (nv.c_nvmlComputeInstance_t * max(info.instanceCount, 1))()
            count = ctypes.c_uint(0)
            nv.nvmlGpuInstanceGetComputeInstances(gi_handle, info.id, array, ctypes.byref(count))
            for ci in array[: count.value]:
                nv.nvmlComputeInstanceDestroy(ci)
        nv.nvmlGpuInstanceDestroy(gi_handle)

    def create_gpu_instance(self, handle, profile, placement):
        """Create a GPU instance at a placement with one compute instance spanning it."""
        nv = self.nv
        spot = nv.c_nvmlGpuInstancePlacement_t()
        spot.start, spot.size = placement["start"], placement["size"]
        gi = nv.nvmlDeviceCreateGpuInstanceWithPlacement(handle, profile["id"], ctypes.byref(spot))
        try:
            ci_info = nv.nvmlGpuInstanceGetComputeInstanceProfileInfo(
                gi, FULL_CI_PROFILE[profile["slices"]], nv.NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED
            )
            nv.nvmlGpuInstanceCreateComputeInstance(gi, ci_info.id)
        except nv.NVMLError:
            nv.nvmlGpuInstanceDestroy(gi)  # no half-made instance left behind
            raise
        return gi


def import_pynvml():
    """The real pynvml module, or NvmlUnavailable when nvidia-ml-py is not installed."""
    try:
        import pynvml  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise NvmlUnavailable("the Python package nvidia-ml-py (module pynvml) is not installed on this host")
    return pynvml


def read_facts(pynvml=None):
    """gpu_facts' result: never raises for a host without a usable driver. pynvml defaults to the real one."""
    try:
        pynvml = pynvml or import_pynvml()
        with Nvml(pynvml) as nvml:
            try:
                driver, cuda = nvml.driver_versions()
                gpus = [nvml.gpu(i, h) for i, h in enumerate(nvml.handles())]
            except pynvml.NVMLError as exc:
                # e.g. a GPU that fell off the bus: say so instead of a traceback
                raise NvmlUnavailable("NVML failed while reading the GPUs: %s" % exc)
    except NvmlUnavailable as exc:
        return {"gpu_present": False, "reason": str(exc), "driver_version": None, "cuda_driver_version": None, "gpus": []}
    return {
        "gpu_present": bool(gpus),
        "reason": None if gpus else "the NVIDIA driver is loaded but reports no GPU",
        "driver_version": driver,
        "cuda_driver_version": cuda,
        "gpus": gpus,
    }
