"""plugins/module_utils/gpu/nvml.py against a fake pynvml that carries real A100 / H100 / T4 data."""

from __future__ import annotations

import sys

import fake_pynvml
import pynvml
import pytest

from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu import nvml


FakePynvml = fake_pynvml.FakePynvml
gpu = fake_pynvml.gpu


def expected_profiles(fixture):
    """The profiles as read_facts must report them, computed from the fixture file (NVML's answers)."""
    data = fake_pynvml.load_fixture(fixture)
    rows = []
    for p in sorted(data["gpu_instance_profiles"], key=lambda p: p["profile_index"]):
        size = p["placements"]["size"]
        rows.append({
            "name": p["name"][len("MIG "):],
            "profile_index": p["profile_index"],
            "id": p["id"],
            "slices": p["sliceCount"],
            "max_count": p["instanceCount"],
            "memory_mib": p["memorySizeMB"],
            "multiprocessors": p["multiprocessorCount"],
            "placements": [{"start": s, "size": size} for s in p["placements"]["starts"]],
        })
    return rows


# --- no usable driver ------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, reason",
    [
        ({"library_found": False}, "the NVIDIA driver is not installed (libnvidia-ml.so.1 not found)"),
        ({"driver_loaded": False},
         "the NVIDIA driver is installed but its kernel module is not loaded (no GPU, or a reboot is pending)"),
        ({"init_error": pynvml.NVML_ERROR_NO_PERMISSION}, "no permission to talk to the NVIDIA driver (run as root)"),
        ({"init_error": pynvml.NVML_ERROR_UNKNOWN}, "NVML could not be initialised: Unknown Error"),
    ],
    ids=["library-not-found", "driver-not-loaded", "no-permission", "other-error"],
)
def test_no_usable_driver_is_reported_plainly(kwargs, reason):
    fake = FakePynvml("a100-sxm4-80gb", **kwargs)
    facts = nvml.read_facts(fake)
    assert facts == {"gpu_present": False, "reason": reason, "driver_version": None,
                     "cuda_driver_version": None, "gpus": []}
    assert fake.calls == ["nvmlInit"]  # nothing else was asked of a library that did not start


def test_nvidia_ml_py_not_installed(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # `import pynvml` raises ImportError
    facts = nvml.read_facts()
    assert facts["gpu_present"] is False
    assert facts["reason"] == "the Python package nvidia-ml-py (module pynvml) is not installed on this host"
    assert facts["gpus"] == []


def test_driver_without_gpus():
    fake = FakePynvml()
    facts = nvml.read_facts(fake)
    assert facts["gpu_present"] is False
    assert facts["reason"] == "the NVIDIA driver is loaded but reports no GPU"
    assert (facts["driver_version"], facts["cuda_driver_version"]) == ("535.104.05", "12.2")
    assert fake.initialized == 0  # nvmlShutdown was called


def test_cuda_version_is_decoded_from_nvml_integer():
    facts = nvml.read_facts(FakePynvml("t4", driver_version="550.54.15", cuda_driver_version=12040))
    assert (facts["driver_version"], facts["cuda_driver_version"]) == ("550.54.15", "12.4")


# --- a GPU without MIG ---------------------------------------------------------------


def test_t4_is_not_mig_capable():
    fake = FakePynvml(gpu("t4", processes=[101, 202], memory_used_mib=300))
    facts = nvml.read_facts(fake)
    assert facts["gpu_present"] is True
    (t4,) = facts["gpus"]
    assert t4["name"] == "Tesla T4"
    assert t4["pci_device_id"] == "0x1EB810DE"
    assert t4["memory_total_mib"] == 15360
    assert t4["memory_used_mib"] == 300
    assert t4["compute_mode"] == "Default"
    assert t4["mig_capable"] is False
    assert t4["mig_mode"] == {"current": None, "pending": None}
    assert t4["mig_profiles"] == [] and t4["mig_devices"] == []
    assert t4["processes"] == 2
    assert t4["uuid"].startswith("GPU-")
    # a non-MIG GPU is never asked for MIG profiles or devices
    assert "nvmlDeviceGetGpuInstanceProfileInfo" not in fake.calls
    assert "nvmlDeviceGetMaxMigDeviceCount" not in fake.calls
    assert fake.initialized == 0 and fake.calls[-1] == "nvmlShutdown"


# --- eight A100 80GB with MIG off ------------------------------------------------------


def test_eight_a100_80gb_mig_disabled_list_profiles_with_counts_and_placements():
    """Assumption for the A100: NVML answers the GPU instance profile queries while MIG mode is off.
    Seen on a real H200 with driver 580 (tests/fixtures/nvml/h200-gpu-facts.json) and documented by
    NVML for the placements; not confirmed on an A100. The fake's profiles_when_mig_disabled switch
    covers the other case (next test)."""
    fake = FakePynvml(*["a100-sxm4-80gb"] * 8)
    facts = nvml.read_facts(fake)
    gpus = facts["gpus"]
    assert [g["index"] for g in gpus] == list(range(8))
    assert len({g["uuid"] for g in gpus}) == 8
    assert len({g["pci_bus_id"] for g in gpus}) == 8
    want = expected_profiles("a100-sxm4-80gb")
    for g in gpus:
        assert g["name"] == "NVIDIA A100-SXM4-80GB"
        assert g["pci_device_id"] == "0x20B210DE"
        assert g["memory_total_mib"] == 81920
        assert g["mig_capable"] is True
        assert g["mig_mode"] == {"current": False, "pending": False}
        assert g["mig_devices"] == []
        assert g["mig_profiles"] == want
    by_name = {p["name"]: p for p in gpus[0]["mig_profiles"]}
    assert sorted(by_name) == ["1g.10gb", "1g.10gb+me", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"]
    assert by_name["1g.10gb"]["max_count"] == 7 and by_name["1g.10gb+me"]["max_count"] == 1
    assert by_name["1g.20gb"]["placements"] == [{"start": s, "size": 2} for s in (0, 2, 4, 6)]
    assert by_name["2g.20gb"]["placements"] == [{"start": s, "size": 2} for s in (0, 2, 4)]
    assert by_name["3g.40gb"]["placements"] == [{"start": 0, "size": 4}, {"start": 4, "size": 4}]
    assert by_name["4g.40gb"]["placements"] == [{"start": 0, "size": 4}]
    assert by_name["7g.80gb"]["placements"] == [{"start": 0, "size": 8}]
    assert (by_name["7g.80gb"]["slices"], by_name["7g.80gb"]["multiprocessors"], by_name["7g.80gb"]["memory_mib"]) == (7, 98, 80896)
    assert by_name["1g.20gb"]["profile_index"] == FakePynvml.NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV2
    assert by_name["1g.10gb+me"]["profile_index"] == FakePynvml.NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV1
    assert fake.mutations == []


def test_mig_capable_gpu_whose_nvml_hides_profiles_while_mig_is_off():
    facts = nvml.read_facts(FakePynvml("a100-sxm4-80gb", profiles_when_mig_disabled=False))
    (a100,) = facts["gpus"]
    assert a100["mig_capable"] is True
    assert a100["mig_mode"] == {"current": False, "pending": False}
    assert a100["mig_profiles"] == []


# --- an A100 40GB with MIG on and instances ---------------------------------------------------


def test_a100_40gb_mig_enabled_reports_instances_with_profile_placement_and_uuids():
    fake = FakePynvml(gpu("a100-sxm4-40gb", mig=True, pending=False, processes=[4242],
                          instances=[("3g.20gb", 4), ("2g.10gb", 0), ("1g.5gb", 2), ("1g.5gb", 3)]))
    (a100,) = nvml.read_facts(fake)["gpus"]
    assert a100["name"] == "NVIDIA A100-SXM4-40GB"
    assert a100["pci_device_id"] == "0x20B010DE"
    assert a100["memory_total_mib"] == 40960
    assert a100["mig_mode"] == {"current": True, "pending": False}
    assert a100["processes"] == 1
    devices = a100["mig_devices"]
    assert [(d["profile"], d["placement"]) for d in devices] == [
        ("2g.10gb", {"start": 0, "size": 2}),
        ("1g.5gb", {"start": 2, "size": 1}),
        ("1g.5gb", {"start": 3, "size": 1}),
        ("3g.20gb", {"start": 4, "size": 4}),
    ]
    # GPU instance ids as nvidia-smi -lgi numbers them for these placements
    assert [d["gpu_instance_id"] for d in devices] == [3, 9, 10, 2]
    uuids = [u for d in devices for u in d["uuids"]]
    assert [len(d["uuids"]) for d in devices] == [1, 1, 1, 1]
    assert len(set(uuids)) == 4 and all(u.startswith("MIG-") for u in uuids)
    assert a100["uuid"] not in uuids
    assert a100["mig_profiles"] == expected_profiles("a100-sxm4-40gb")
    assert fake.mutations == []


def test_mig_device_uuids_belong_to_their_gpu_instance():
    fake = FakePynvml(gpu("h100-sxm5-80gb", mig=True, instances=[("4g.40gb", 0), ("3g.40gb", 4)]))
    (h100,) = nvml.read_facts(fake)["gpus"]
    with nvml.Nvml(fake) as session:
        handle = session.handles()[0]
        by_gi = session.mig_device_uuids(handle)
    assert {d["gpu_instance_id"]: d["uuids"] for d in h100["mig_devices"]} == by_gi
    assert sorted(by_gi) == [1, 2]


# --- H100: profiles come from NVML, not from a table -------------------------------------


def test_h100_profiles_are_the_ones_nvml_reports():
    fake = FakePynvml("h100-sxm5-80gb")
    (h100,) = nvml.read_facts(fake)["gpus"]
    fixture = fake_pynvml.load_fixture("h100-sxm5-80gb")
    assert h100["name"] == "NVIDIA H100 80GB HBM3"
    assert h100["pci_device_id"] == "0x233010DE"
    assert h100["memory_total_mib"] == 81559
    assert sorted(p["name"] for p in h100["mig_profiles"]) == sorted(p["name"][4:] for p in fixture["gpu_instance_profiles"])
    assert h100["mig_profiles"] == expected_profiles("h100-sxm5-80gb")
    by_name = {p["name"]: p for p in h100["mig_profiles"]}
    # H100 numbers that differ from the A100 80GB: 132 SMs in 7g, 26 in 1g.20gb
    assert by_name["7g.80gb"]["multiprocessors"] == 132
    assert by_name["1g.20gb"]["multiprocessors"] == 26


def test_a_profile_nvml_reports_differently_is_reported_as_nvml_says():
    """A GPU this code has never seen: change what the device answers, the facts follow."""
    fake = FakePynvml("h100-sxm5-80gb")
    profile = fake.devices[0].by_index[FakePynvml.NVML_GPU_INSTANCE_PROFILE_2_SLICE]
    profile.update(name="MIG 2g.35gb", instanceCount=2, memorySizeMB=33024, multiprocessorCount=33)
    (h100,) = nvml.read_facts(fake)["gpus"]
    by_name = {p["name"]: p for p in h100["mig_profiles"]}
    assert "2g.20gb" not in by_name
    assert by_name["2g.35gb"]["max_count"] == 2
    assert by_name["2g.35gb"]["memory_mib"] == 33024
    assert by_name["2g.35gb"]["multiprocessors"] == 33


def test_unsupported_profile_indexes_are_skipped():
    fake = FakePynvml("a100-sxm4-40gb")
    (a100,) = nvml.read_facts(fake)["gpus"]
    asked = fake.calls.count("nvmlDeviceGetGpuInstanceProfileInfo")
    assert asked == FakePynvml.NVML_GPU_INSTANCE_PROFILE_COUNT
    assert len(a100["mig_profiles"]) == 7


def test_fixture_profile_indexes_match_the_real_pynvml_constants():
    for fixture in ("a100-sxm4-40gb", "a100-sxm4-80gb", "h100-sxm5-80gb"):
        for profile in fake_pynvml.load_fixture(fixture)["gpu_instance_profiles"]:
            assert getattr(pynvml, profile["constant"]) == profile["profile_index"]
    assert FakePynvml.NVML_GPU_INSTANCE_PROFILE_COUNT == pynvml.NVML_GPU_INSTANCE_PROFILE_COUNT
    assert FakePynvml.c_nvmlGpuInstance_t is pynvml.c_nvmlGpuInstance_t


# --- changing (what mig_config uses) ---------------------------------------------------------


def _profile(session, handle, name):
    return next(p for p in session.mig_profiles(handle) if p["name"] == name)


def test_set_mig_mode_needs_a_reset():
    fake = FakePynvml("a100-sxm4-80gb")
    with nvml.Nvml(fake) as session:
        handle = session.handles()[0]
        assert session.set_mig_mode(handle, True) is False
        assert session.mig_mode(handle) == (False, True)
        assert fake.mutations == [("nvmlDeviceSetMigMode", 0, FakePynvml.NVML_DEVICE_MIG_ENABLE)]


def test_set_mig_mode_takes_effect_when_the_reset_does():
    fake = FakePynvml("a100-sxm4-80gb", reset_applies_immediately=True)
    with nvml.Nvml(fake) as session:
        handle = session.handles()[0]
        assert session.set_mig_mode(handle, True) is True
        assert session.mig_mode(handle) == (True, True)


def test_set_mig_mode_on_a_busy_gpu_stays_pending():
    fake = FakePynvml(gpu("a100-sxm4-80gb", processes=[77]), reset_applies_immediately=True)
    with nvml.Nvml(fake) as session:
        handle = session.handles()[0]
        assert session.set_mig_mode(handle, True) is False
        assert session.mig_mode(handle) == (False, True)


def test_create_gpu_instance_with_its_compute_instance():
    fake = FakePynvml(gpu("a100-sxm4-40gb", mig=True))
    with nvml.Nvml(fake) as session:
        handle = session.handles()[0]
        profile = _profile(session, handle, "3g.20gb")
        session.create_gpu_instance(handle, profile, {"start": 4, "size": 4})
        assert fake.instances(0) == [("3g.20gb", 4, 4, 1)]
        assert fake.mutations == [
            ("nvmlDeviceCreateGpuInstanceWithPlacement", 0, 9, 4, 4),
            ("nvmlGpuInstanceCreateComputeInstance", 0, 2, FakePynvml.NVML_COMPUTE_INSTANCE_PROFILE_3_SLICE),
        ]
        (a100,) = nvml.read_facts(fake)["gpus"]
        assert [(d["profile"], d["placement"]["start"], len(d["uuids"])) for d in a100["mig_devices"]] == [("3g.20gb", 4, 1)]


@pytest.mark.parametrize(
    "existing, name, placement, code",
    [
        ([("4g.20gb", 0)], "3g.20gb", {"start": 0, "size": 4}, "NVML_ERROR_INSUFFICIENT_RESOURCES"),  # overlaps
        ([("1g.5gb+me", 0)], "1g.5gb+me", {"start": 1, "size": 1}, "NVML_ERROR_INSUFFICIENT_RESOURCES"),  # only one +me
        ([], "3g.20gb", {"start": 2, "size": 4}, "NVML_ERROR_INVALID_ARGUMENT"),  # not a placement of 3g
        ([], "1g.10gb", {"start": 1, "size": 2}, "NVML_ERROR_INVALID_ARGUMENT"),  # 1g.10gb starts at even slices
    ],
    ids=["overlap", "instance-count", "bad-start", "bad-start-rev2"],
)
def test_create_gpu_instance_rejected_as_the_driver_would(existing, name, placement, code):
    fake = FakePynvml(gpu("a100-sxm4-40gb", mig=True, instances=existing))
    with nvml.Nvml(fake) as session:
        handle = session.handles()[0]
        with pytest.raises(FakePynvml.NVMLError) as err:
            session.create_gpu_instance(handle, _profile(session, handle, name), placement)
        assert err.value.value == getattr(FakePynvml, code)
        assert [i[:2] for i in fake.instances(0)] == list(existing)


def test_create_gpu_instance_needs_mig_mode():
    fake = FakePynvml("a100-sxm4-40gb")
    with nvml.Nvml(fake) as session:
        handle = session.handles()[0]
        with pytest.raises(FakePynvml.NVMLError) as err:
            session.create_gpu_instance(handle, _profile(session, handle, "7g.40gb"), {"start": 0, "size": 8})
        assert err.value.value == FakePynvml.NVML_ERROR_NOT_SUPPORTED


def test_destroy_gpu_instance_destroys_its_compute_instances_first():
    fake = FakePynvml(gpu("a100-sxm4-80gb", mig=True, instances=[("2g.20gb", 0), ("3g.40gb", 4)]))
    with nvml.Nvml(fake) as session:
        handle = session.handles()[0]
        instances = session.gpu_instances(handle, session.mig_profiles(handle))
        target = next(i for i in instances if i["profile"] == "3g.40gb")
        session.destroy_gpu_instance(target["handle"])
        assert fake.instances(0) == [("2g.20gb", 0, 2, 1)]
        assert fake.mutations == [("nvmlComputeInstanceDestroy", 0, 2, 0), ("nvmlGpuInstanceDestroy", 0, 2)]


def test_destroy_gpu_instance_in_use_fails_and_keeps_it():
    fake = FakePynvml(gpu("a100-sxm4-80gb", mig=True, instances=[("7g.80gb", 0)], processes=[1]))
    with nvml.Nvml(fake) as session:
        handle = session.handles()[0]
        (instance,) = session.gpu_instances(handle, session.mig_profiles(handle))
        with pytest.raises(FakePynvml.NVMLError) as err:
            session.destroy_gpu_instance(instance["handle"])
        assert err.value.value == FakePynvml.NVML_ERROR_IN_USE
        assert fake.instances(0) == [("7g.80gb", 0, 8, 1)]
