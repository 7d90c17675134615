"""A fake `pynvml` module carrying real device data, for unit tests of the NVIDIA module_utils.

`FakePynvml(...)` stands in for the `pynvml` module object that
plugins/module_utils/gpu/nvml.py is handed (`Nvml(pynvml)`, `read_facts(pynvml)`).
It exposes only what nvml.py uses, with NVML's semantics:

- the NVML_* constants and the ctypes types are the real ones, taken from the installed
  nvidia-ml-py (`pynvml`); the profile-info, instance-info, memory and PCI results are the
  real pynvml ctypes structures, so field names and types are NVML's own;
- device data (names, PCI ids, memory, GPU instance profiles and their placements) comes from
  tests/fixtures/nvml/<model>.yaml, where each number's source is written down;
- errors are raised as `NVMLError(code)` with the code NVML documents for the case
  (NOT_SUPPORTED, INVALID_ARGUMENT, INSUFFICIENT_RESOURCES, IN_USE, ...);
- functions that take ctypes out-parameters fill them as the C API does (a NULL array only
  sets the count; an array is filled up to the count).

State: which GPUs, MIG mode current/pending per GPU, existing GPU instances (profile and
placement start; each gets one compute instance spanning it, as `nvidia-smi mig -cgi ... -C`
makes), running processes, and failure switches (library not found, driver not loaded).
Every call to a function that changes the GPU is recorded in `fake.mutations`, so a test can
assert that nothing was changed.

Checked against the real NVML on an H100 80GB HBM3 (driver 580.159.04, MIG off): read_facts gives
the same name, PCI device id, total memory and MIG profiles (ids, counts, memory, SMs, placements)
through this fake with h100-sxm5-80gb.yaml as through the real pynvml.

What is modelled, not sourced: compute instance profiles are derived from the GPU instance's
slice count (a GI of N compute slices offers the 1/2/3/4/7-slice CI profiles that fit in N);
GPU instance ids follow the placement tree nvidia-smi shows (8 slices -> 0, 4 -> 1..2,
2 -> 3..6, 1 -> 7..13); UUIDs and PCI bus ids are made up.
"""

from __future__ import annotations

import ctypes
import hashlib
from pathlib import Path
from types import SimpleNamespace

import pynvml as _real
import yaml

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nvml"

# NVIDIA T4: a GPU without MIG. "Tesla T4" and PCI device id 0x1EB810DE as `nvidia-smi -q`
# shows them ("Device Id : 0x1EB810DE"); 15360 MiB total as listed in
# https://github.com/modal-labs/modal-client/pull/2797 ("T4: 15360MiB").
T4 = {
    "name": "Tesla T4",
    "pci_device_id": "0x1EB810DE",
    "memory_total_bytes": 15360 * 2**20,
    "mig_capable": False,
    "max_mig_devices": 0,
    "gpu_instance_profiles": [],
}

BUILTIN = {"t4": T4}

# Compute instance profile index -> compute slices (NVML_COMPUTE_INSTANCE_PROFILE_*).
CI_PROFILE_SLICES = {
    _real.NVML_COMPUTE_INSTANCE_PROFILE_1_SLICE: 1,
    _real.NVML_COMPUTE_INSTANCE_PROFILE_2_SLICE: 2,
    _real.NVML_COMPUTE_INSTANCE_PROFILE_3_SLICE: 3,
    _real.NVML_COMPUTE_INSTANCE_PROFILE_4_SLICE: 4,
    _real.NVML_COMPUTE_INSTANCE_PROFILE_7_SLICE: 7,
}

_ERROR_NAMES = {v: k for k, v in vars(_real).items() if k.startswith("NVML_ERROR_") and isinstance(v, int)}


class NVMLError(Exception):
    """pynvml.NVMLError as nvml.py sees it: an exception with the NVML return code in `.value`."""

    def __init__(self, value):
        super().__init__(value)
        self.value = value

    def __str__(self):
        return _real.NVMLError._errcode_to_string.get(  # pylint: disable=protected-access
            self.value, _ERROR_NAMES.get(self.value, "NVML error %d" % self.value)
        )


def load_fixture(name):
    """The device data of a fixture: a built-in name ("t4") or tests/fixtures/nvml/<name>.yaml."""
    if name in BUILTIN:
        return dict(BUILTIN[name])
    data = yaml.safe_load((FIXTURES / ("%s.yaml" % name)).read_text(encoding="utf-8"))
    for profile in data["gpu_instance_profiles"]:
        real_index = getattr(_real, profile["constant"])
        if real_index != profile["profile_index"]:
            raise ValueError("%s: %s is %d in pynvml, the fixture says %d"
                             % (name, profile["constant"], real_index, profile["profile_index"]))
    return data


def gpu(fixture, mig=False, pending=None, instances=(), processes=(), memory_used_mib=0, compute_mode=0):
    """One GPU of a fake host.

    mig / pending: MIG mode current and pending (pending defaults to current);
    instances: existing GPU instances as (profile name, placement start) pairs, e.g. ("3g.20gb", 4);
    processes: PIDs of compute processes running on the GPU.
    """
    return {"fixture": fixture, "mig": mig, "pending": mig if pending is None else pending,
            "instances": list(instances), "processes": list(processes),
            "memory_used_mib": memory_used_mib, "compute_mode": compute_mode}


def _uuid(prefix, *parts):
    digest = hashlib.sha256("/".join(str(p) for p in parts).encode()).hexdigest()
    return "%s-%s-%s-%s-%s-%s" % (prefix, digest[:8], digest[8:12], digest[12:16], digest[16:20], digest[20:32])


def _deref(ref):
    """The ctypes object behind byref(x), pointer(x) or x itself."""
    if hasattr(ref, "_obj"):
        return ref._obj  # pylint: disable=protected-access
    if isinstance(ref, ctypes._Pointer):  # pylint: disable=protected-access
        return ref.contents
    return ref


def _address(handle):
    return ctypes.cast(handle, ctypes.c_void_p).value


class _Device:
    """A physical GPU and its MIG state."""

    def __init__(self, index, fixture, spec):
        self.index = index
        self.fixture = fixture
        self.spec = spec
        self.uuid = _uuid("GPU", fixture, index)
        self.bus_id = "00000000:%02X:00.0" % (0x07 + 0x08 * index)
        self.current = False
        self.pending = False
        self.instances = {}  # gpu instance id -> _GpuInstance
        self.processes = []
        self.memory_used_mib = 0
        self.compute_mode = 0
        self.by_id = {p["id"]: p for p in spec["gpu_instance_profiles"]}
        self.by_index = {p["profile_index"]: p for p in spec["gpu_instance_profiles"]}
        self.by_short_name = {p["name"][4:]: p for p in spec["gpu_instance_profiles"]}


class _GpuInstance:
    def __init__(self, device, gi_id, profile, start, size):
        self.device = device
        self.gi_id = gi_id
        self.profile = profile
        self.start = start
        self.size = size
        self.computes = {}  # compute instance id -> _ComputeInstance
        self.handle = None


class _ComputeInstance:
    def __init__(self, gpu_instance, ci_id, ci_profile, uuid):
        self.gpu_instance = gpu_instance
        self.ci_id = ci_id
        self.ci_profile = ci_profile
        self.uuid = uuid
        self.handle = None


class _MigDevice:
    """What nvmlDeviceGetMigDeviceHandleByIndex returns: a MIG device (one compute instance)."""

    def __init__(self, compute):
        self.compute = compute


class FakePynvml:  # pylint: disable=too-many-public-methods,too-many-instance-attributes
    """A module-like stand-in for pynvml. See the module docstring."""

    NVMLError = NVMLError
    c_nvmlGpuInstancePlacement_t = _real.c_nvmlGpuInstancePlacement_t
    c_nvmlGpuInstance_t = _real.c_nvmlGpuInstance_t
    c_nvmlComputeInstance_t = _real.c_nvmlComputeInstance_t

    def __init__(self, *gpus, library_found=True, driver_loaded=True, init_error=None,
                 reset_applies_immediately=False, profiles_when_mig_disabled=True,
                 driver_version="535.104.05", cuda_driver_version=12020):
        """gpus: fixture names ("a100-sxm4-80gb", "t4", ...) or `gpu(...)` dicts, in index order.

        profiles_when_mig_disabled: whether nvmlDeviceGetGpuInstanceProfileInfo answers while MIG
        mode is off. A real H200 on driver 580 does (tests/fixtures/nvml/h200-gpu-facts.json) and
        NVML documents it for the placements; NVML's reference says nothing for the profile info,
        so the other behaviour (other GPUs or drivers) can be tested too.
        """
        if init_error is None and not library_found:
            init_error = _real.NVML_ERROR_LIBRARY_NOT_FOUND
        if init_error is None and not driver_loaded:
            init_error = _real.NVML_ERROR_DRIVER_NOT_LOADED
        self.init_error = init_error
        self.reset_applies_immediately = reset_applies_immediately
        self.profiles_when_mig_disabled = profiles_when_mig_disabled
        self.driver_version = driver_version
        self.cuda_driver_version = cuda_driver_version
        self.initialized = 0
        self.calls = []
        self.mutations = []
        self._handles = {}
        self._next_address = 0x10000
        self._mig_uuids = 0
        self.devices = []
        for index, item in enumerate(gpus):
            state = gpu(item) if isinstance(item, str) else item
            device = _Device(index, state["fixture"], load_fixture(state["fixture"]))
            device.processes = list(state["processes"])
            device.memory_used_mib = state["memory_used_mib"]
            device.compute_mode = state["compute_mode"]
            if device.spec["mig_capable"]:
                device.current, device.pending = bool(state["mig"]), bool(state["pending"])
            elif state["mig"] or state["pending"] or state["instances"]:
                raise ValueError("%s has no MIG" % state["fixture"])
            for name, start in state["instances"]:
                if not device.current:
                    raise ValueError("GPU %d: GPU instances need MIG mode enabled" % index)
                profile = device.by_short_name[name]
                gpu_instance = self._create_gpu_instance(device, profile["id"], start, profile["placements"]["size"])
                self._create_compute_instance(gpu_instance, self._full_ci_profile(gpu_instance))
            self.devices.append(device)

    # --- helpers --------------------------------------------------------------

    def _call(self, name):
        self.calls.append(name)
        if not self.initialized:
            raise NVMLError(_real.NVML_ERROR_UNINITIALIZED)

    def _device(self, handle):
        if not isinstance(handle, _Device) or handle not in self.devices:
            raise NVMLError(_real.NVML_ERROR_INVALID_ARGUMENT)
        return handle

    def _mig_device(self, handle):
        device = self._device(handle)
        if not device.spec["mig_capable"]:
            raise NVMLError(_real.NVML_ERROR_NOT_SUPPORTED)
        return device

    def _new_handle(self, pointer_type, target):
        address = self._next_address
        self._next_address += 0x10
        self._handles[address] = target
        return ctypes.cast(ctypes.c_void_p(address), pointer_type)

    def _lookup(self, handle, kind):
        try:
            target = self._handles.get(_address(handle))
        except (TypeError, ctypes.ArgumentError):
            target = None
        if not isinstance(target, kind):
            raise NVMLError(_real.NVML_ERROR_INVALID_ARGUMENT)
        return target

    @staticmethod
    def _gi_id(start, size):
        """GPU instance ids as nvidia-smi -lgi shows them: a tree over the 8 memory slices."""
        return {8: 0, 4: 1, 2: 3, 1: 7}[size] + start // size

    @staticmethod
    def _ci_profiles(gpu_instance):
        slices = gpu_instance.profile["sliceCount"]
        return {index: n for index, n in CI_PROFILE_SLICES.items() if n <= slices}

    def _full_ci_profile(self, gpu_instance):
        profiles = self._ci_profiles(gpu_instance)
        return max(profiles, key=profiles.get)

    def _create_gpu_instance(self, device, profile_id, start, size):
        profile = device.by_id.get(profile_id)
        if profile is None:
            raise NVMLError(_real.NVML_ERROR_INVALID_ARGUMENT)
        if start not in profile["placements"]["starts"] or size != profile["placements"]["size"]:
            raise NVMLError(_real.NVML_ERROR_INVALID_ARGUMENT)
        same = [g for g in device.instances.values() if g.profile["id"] == profile_id]
        if len(same) >= profile["instanceCount"]:
            raise NVMLError(_real.NVML_ERROR_INSUFFICIENT_RESOURCES)
        for other in device.instances.values():
            if start < other.start + other.size and other.start < start + size:
                raise NVMLError(_real.NVML_ERROR_INSUFFICIENT_RESOURCES)
        gi_id = self._gi_id(start, size)
        gpu_instance = _GpuInstance(device, gi_id, profile, start, size)
        gpu_instance.handle = self._new_handle(_real.c_nvmlGpuInstance_t, gpu_instance)
        device.instances[gi_id] = gpu_instance
        return gpu_instance

    def _create_compute_instance(self, gpu_instance, ci_profile):
        profiles = self._ci_profiles(gpu_instance)
        if ci_profile not in profiles:
            raise NVMLError(_real.NVML_ERROR_INVALID_ARGUMENT)
        used = sum(profiles[c.ci_profile] for c in gpu_instance.computes.values())
        if used + profiles[ci_profile] > gpu_instance.profile["sliceCount"]:
            raise NVMLError(_real.NVML_ERROR_INSUFFICIENT_RESOURCES)
        ci_id = next(i for i in range(8) if i not in gpu_instance.computes)
        self._mig_uuids += 1
        compute = _ComputeInstance(gpu_instance, ci_id, ci_profile,
                                   _uuid("MIG", gpu_instance.device.uuid, gpu_instance.gi_id, ci_id, self._mig_uuids))
        compute.handle = self._new_handle(_real.c_nvmlComputeInstance_t, compute)
        gpu_instance.computes[ci_id] = compute
        return compute

    def _mig_devices(self, device):
        return [_MigDevice(c) for g in sorted(device.instances.values(), key=lambda g: g.gi_id)
                for c in sorted(g.computes.values(), key=lambda c: c.ci_id)]

    @staticmethod
    def _set_count(count_ref, value):
        _deref(count_ref).value = value

    @staticmethod
    def _fill(array, items):
        if array is None:
            return
        if len(array) < len(items):
            raise NVMLError(_real.NVML_ERROR_INSUFFICIENT_SIZE)
        for i, item in enumerate(items):
            array[i] = item

    # --- views for tests ------------------------------------------------------

    def instances(self, index):
        """[(profile name, start, size, number of compute instances)] of GPU `index`, by start."""
        device = self.devices[index]
        return sorted((g.profile["name"][4:], g.start, g.size, len(g.computes)) for g in device.instances.values())

    # --- library --------------------------------------------------------------

    def nvmlInit(self):
        self.calls.append("nvmlInit")
        if self.init_error is not None:
            raise NVMLError(self.init_error)
        self.initialized += 1

    def nvmlShutdown(self):
        self._call("nvmlShutdown")
        self.initialized -= 1

    def nvmlSystemGetDriverVersion(self):
        self._call("nvmlSystemGetDriverVersion")
        return self.driver_version

    def nvmlSystemGetCudaDriverVersion(self):
        self._call("nvmlSystemGetCudaDriverVersion")
        return self.cuda_driver_version

    # --- devices --------------------------------------------------------------

    def nvmlDeviceGetCount(self):
        self._call("nvmlDeviceGetCount")
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, index):
        self._call("nvmlDeviceGetHandleByIndex")
        if not 0 <= index < len(self.devices):
            raise NVMLError(_real.NVML_ERROR_INVALID_ARGUMENT)
        return self.devices[index]

    def nvmlDeviceGetUUID(self, handle):
        self._call("nvmlDeviceGetUUID")
        if isinstance(handle, _MigDevice):
            return handle.compute.uuid
        return self._device(handle).uuid

    def nvmlDeviceGetName(self, handle):
        self._call("nvmlDeviceGetName")
        return self._device(handle).spec["name"]

    def nvmlDeviceGetMemoryInfo(self, handle):
        self._call("nvmlDeviceGetMemoryInfo")
        device = self._device(handle)
        memory = _real.c_nvmlMemory_t()
        memory.total = device.spec["memory_total_bytes"]
        memory.used = device.memory_used_mib * 2**20
        memory.free = memory.total - memory.used
        return memory

    def nvmlDeviceGetPciInfo(self, handle):
        self._call("nvmlDeviceGetPciInfo")
        device = self._device(handle)
        pci = _real.nvmlPciInfo_t()
        pci.busId = device.bus_id.encode()
        pci.busIdLegacy = device.bus_id.encode()
        pci.bus = 0x07 + 0x08 * device.index
        pci.pciDeviceId = int(device.spec["pci_device_id"], 16)
        return pci

    def nvmlDeviceGetComputeMode(self, handle):
        self._call("nvmlDeviceGetComputeMode")
        return self._device(handle).compute_mode

    def nvmlDeviceGetComputeRunningProcesses(self, handle):
        self._call("nvmlDeviceGetComputeRunningProcesses")
        device = self._device(handle)
        return [SimpleNamespace(pid=pid, usedGpuMemory=None, gpuInstanceId=0xFFFFFFFF, computeInstanceId=0xFFFFFFFF)
                for pid in device.processes]

    # --- MIG: reading ---------------------------------------------------------

    def nvmlDeviceGetMigMode(self, handle):
        self._call("nvmlDeviceGetMigMode")
        device = self._mig_device(handle)
        return [int(device.current), int(device.pending)]

    def nvmlDeviceGetGpuInstanceProfileInfo(self, handle, profile, version=2):
        self._call("nvmlDeviceGetGpuInstanceProfileInfo")
        device = self._mig_device(handle)
        if not 0 <= profile < _real.NVML_GPU_INSTANCE_PROFILE_COUNT:
            raise NVMLError(_real.NVML_ERROR_INVALID_ARGUMENT)
        if not device.current and not self.profiles_when_mig_disabled:
            raise NVMLError(_real.NVML_ERROR_NOT_SUPPORTED)
        spec = device.by_index.get(profile)
        if spec is None:
            raise NVMLError(_real.NVML_ERROR_NOT_SUPPORTED)
        info = _real.c_nvmlGpuInstanceProfileInfo_v2_t() if version == 2 else _real.c_nvmlGpuInstanceProfileInfo_t()
        info.id = spec["id"]
        info.sliceCount = spec["sliceCount"]
        info.instanceCount = spec["instanceCount"]
        info.multiprocessorCount = spec["multiprocessorCount"]
        info.memorySizeMB = spec["memorySizeMB"]
        if version == 2:
            info.name = spec["name"].encode()
        return info

    def nvmlDeviceGetGpuInstancePossiblePlacements(self, handle, profileId, placementsRef, countRef):
        self._call("nvmlDeviceGetGpuInstancePossiblePlacements")
        device = self._mig_device(handle)
        spec = device.by_id.get(profileId)
        if spec is None:
            raise NVMLError(_real.NVML_ERROR_INVALID_ARGUMENT)
        places = []
        for start in spec["placements"]["starts"]:
            place = _real.c_nvmlGpuInstancePlacement_t()
            place.start, place.size = start, spec["placements"]["size"]
            places.append(place)
        self._fill(placementsRef, places)
        self._set_count(countRef, len(places))
        return _real.NVML_SUCCESS

    def nvmlDeviceGetGpuInstances(self, handle, profileId, gpuInstancesRef, countRef):
        self._call("nvmlDeviceGetGpuInstances")
        device = self._mig_device(handle)
        if not device.current:
            raise NVMLError(_real.NVML_ERROR_NOT_SUPPORTED)
        if profileId not in device.by_id:
            raise NVMLError(_real.NVML_ERROR_INVALID_ARGUMENT)
        found = [g.handle for g in sorted(device.instances.values(), key=lambda g: g.gi_id) if g.profile["id"] == profileId]
        self._fill(gpuInstancesRef, found)
        self._set_count(countRef, len(found))
        return _real.NVML_SUCCESS

    def nvmlGpuInstanceGetInfo(self, gpuInstance):
        self._call("nvmlGpuInstanceGetInfo")
        target = self._lookup(gpuInstance, _GpuInstance)
        info = _real.c_nvmlGpuInstanceInfo_t()
        info.id = target.gi_id
        info.profileId = target.profile["id"]
        info.placement.start = target.start
        info.placement.size = target.size
        return info

    def nvmlDeviceGetMaxMigDeviceCount(self, handle):
        """0 while MIG mode is off, as a real H100 (driver 580) answered."""
        self._call("nvmlDeviceGetMaxMigDeviceCount")
        device = self._mig_device(handle)
        return device.spec["max_mig_devices"] if device.current else 0

    def nvmlDeviceGetMigDeviceHandleByIndex(self, handle, index):
        self._call("nvmlDeviceGetMigDeviceHandleByIndex")
        device = self._mig_device(handle)
        if not device.current:
            raise NVMLError(_real.NVML_ERROR_NOT_SUPPORTED)
        migs = self._mig_devices(device)
        if not 0 <= index < len(migs):
            raise NVMLError(_real.NVML_ERROR_NOT_FOUND)
        return migs[index]

    def nvmlDeviceGetGpuInstanceId(self, handle):
        self._call("nvmlDeviceGetGpuInstanceId")
        if not isinstance(handle, _MigDevice):
            raise NVMLError(_real.NVML_ERROR_NOT_SUPPORTED)
        return handle.compute.gpu_instance.gi_id

    def nvmlGpuInstanceGetComputeInstanceProfileInfo(self, gpuInstance, profile, engProfile, version=2):
        self._call("nvmlGpuInstanceGetComputeInstanceProfileInfo")
        target = self._lookup(gpuInstance, _GpuInstance)
        if not 0 <= profile < _real.NVML_COMPUTE_INSTANCE_PROFILE_COUNT:
            raise NVMLError(_real.NVML_ERROR_INVALID_ARGUMENT)
        if engProfile != _real.NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED:
            raise NVMLError(_real.NVML_ERROR_NOT_SUPPORTED)
        profiles = self._ci_profiles(target)
        if profile not in profiles:
            raise NVMLError(_real.NVML_ERROR_NOT_SUPPORTED)
        slices, gi_slices = profiles[profile], target.profile["sliceCount"]
        info = _real.c_nvmlComputeInstanceProfileInfo_v2_t() if version == 2 else _real.c_nvmlComputeInstanceProfileInfo_t()
        info.id = profile
        info.sliceCount = slices
        info.instanceCount = gi_slices // slices
        info.multiprocessorCount = target.profile["multiprocessorCount"] * slices // gi_slices
        if version == 2:
            gi_name = target.profile["name"]
            info.name = (gi_name if slices == gi_slices else "MIG %dc.%s" % (slices, gi_name[4:])).encode()
        return info

    def nvmlGpuInstanceGetComputeInstances(self, gpuInstance, profileId, computeInstancesRef, countRef):
        self._call("nvmlGpuInstanceGetComputeInstances")
        target = self._lookup(gpuInstance, _GpuInstance)
        if profileId not in self._ci_profiles(target):
            raise NVMLError(_real.NVML_ERROR_INVALID_ARGUMENT)
        found = [c.handle for c in sorted(target.computes.values(), key=lambda c: c.ci_id) if c.ci_profile == profileId]
        self._fill(computeInstancesRef, found)
        self._set_count(countRef, len(found))
        return _real.NVML_SUCCESS

    # --- MIG: changing (each call is recorded in self.mutations) ----------------

    def nvmlDeviceSetMigMode(self, handle, mode):
        """Sets the pending mode. It becomes current only with reset_applies_immediately and an
        idle GPU; the activation status is returned as NVML does (IN_USE, RESET_REQUIRED)."""
        self._call("nvmlDeviceSetMigMode")
        device = self._mig_device(handle)
        self.mutations.append(("nvmlDeviceSetMigMode", device.index, mode))
        if mode not in (_real.NVML_DEVICE_MIG_DISABLE, _real.NVML_DEVICE_MIG_ENABLE):
            raise NVMLError(_real.NVML_ERROR_INVALID_ARGUMENT)
        device.pending = mode == _real.NVML_DEVICE_MIG_ENABLE
        if device.current == device.pending:
            return _real.NVML_SUCCESS
        if device.processes:
            return _real.NVML_ERROR_IN_USE
        if not self.reset_applies_immediately:
            return _real.NVML_ERROR_RESET_REQUIRED
        device.current = device.pending
        if not device.current:  # leaving MIG mode drops every GPU and compute instance
            for gpu_instance in device.instances.values():
                for compute in gpu_instance.computes.values():
                    del self._handles[_address(compute.handle)]
                del self._handles[_address(gpu_instance.handle)]
            device.instances.clear()
        return _real.NVML_SUCCESS

    def nvmlDeviceCreateGpuInstanceWithPlacement(self, handle, profileId, placement):
        self._call("nvmlDeviceCreateGpuInstanceWithPlacement")
        device = self._mig_device(handle)
        spot = _deref(placement)
        self.mutations.append(("nvmlDeviceCreateGpuInstanceWithPlacement", device.index, profileId, spot.start, spot.size))
        if not device.current:
            raise NVMLError(_real.NVML_ERROR_NOT_SUPPORTED)
        return self._create_gpu_instance(device, profileId, spot.start, spot.size).handle

    def nvmlGpuInstanceCreateComputeInstance(self, gpuInstance, profileId):
        self._call("nvmlGpuInstanceCreateComputeInstance")
        target = self._lookup(gpuInstance, _GpuInstance)
        self.mutations.append(("nvmlGpuInstanceCreateComputeInstance", target.device.index, target.gi_id, profileId))
        return self._create_compute_instance(target, profileId).handle

    def nvmlComputeInstanceDestroy(self, computeInstance):
        self._call("nvmlComputeInstanceDestroy")
        target = self._lookup(computeInstance, _ComputeInstance)
        device = target.gpu_instance.device
        self.mutations.append(("nvmlComputeInstanceDestroy", device.index, target.gpu_instance.gi_id, target.ci_id))
        if device.processes:
            raise NVMLError(_real.NVML_ERROR_IN_USE)
        del target.gpu_instance.computes[target.ci_id]
        del self._handles[_address(computeInstance)]
        return _real.NVML_SUCCESS

    def nvmlGpuInstanceDestroy(self, gpuInstance):
        self._call("nvmlGpuInstanceDestroy")
        target = self._lookup(gpuInstance, _GpuInstance)
        self.mutations.append(("nvmlGpuInstanceDestroy", target.device.index, target.gi_id))
        if target.computes:
            raise NVMLError(_real.NVML_ERROR_IN_USE)
        del target.device.instances[target.gi_id]
        del self._handles[_address(gpuInstance)]
        return _real.NVML_SUCCESS


for _name, _value in vars(_real).items():
    if _name.startswith("NVML_") and isinstance(_value, int) and not isinstance(_value, bool):
        setattr(FakePynvml, _name, _value)
