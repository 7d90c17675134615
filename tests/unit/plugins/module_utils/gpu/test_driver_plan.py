"""Package and repository choice of the gpu_driver role, per OS (the Ubuntu and RHEL paths are tested here)."""

from __future__ import annotations

import pytest

from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.driver_plan import DriverPlanError, driver_plan

KERNEL = "6.8.0-49-generic"


@pytest.mark.parametrize("version", ["22.04", "24.04"])
def test_ubuntu_server_branches(version):
    plan = driver_plan("Ubuntu", version, KERNEL, "570")
    assert plan["family"] == "apt" and plan["repositories"] == []
    assert plan["packages"] == ["linux-headers-%s" % KERNEL, "nvidia-driver-570-server", "nvidia-utils-570-server"]
    assert plan["check_package"] == "nvidia-driver-570-server"
    open_plan = driver_plan("Ubuntu", version, KERNEL, None, open_modules=True)
    assert "nvidia-driver-580-server-open" in open_plan["packages"] and open_plan["branch"] == "580"


@pytest.mark.parametrize("distribution", ["RedHat", "Rocky", "AlmaLinux"])
def test_rhel9_module_stream_from_the_cuda_repository(distribution):
    plan = driver_plan(distribution, "9.4", "5.14.0-427.el9.x86_64", "580")
    assert plan["family"] == "dnf"
    assert plan["module_stream"] == "nvidia-driver:580-dkms"
    kernel = "5.14.0-427.el9.x86_64"
    assert plan["packages"] == ["kernel-devel-%s" % kernel, "kernel-headers-%s" % kernel, "@nvidia-driver:580-dkms"]
    assert plan["repositories"][0]["baseurl"].endswith("/cuda/repos/rhel9/$basearch")
    assert driver_plan(distribution, "9.4", "k", "580", open_modules=True)["module_stream"] == "nvidia-driver:580-open"


def test_debian12_non_free():
    plan = driver_plan("Debian", "12.8", "6.1.0-28-amd64")
    assert plan["repositories"] == ["contrib", "non-free", "non-free-firmware"]
    assert plan["packages"] == ["linux-headers-6.1.0-28-amd64", "nvidia-driver", "firmware-misc-nonfree", "nvidia-smi"]
    assert plan["branch"] is None and plan["check_package"] == "nvidia-driver"
    assert "linux-headers-6.1.0-28-amd64" not in driver_plan("Debian", "12", "x", kernel_headers=False)["packages"]


@pytest.mark.parametrize("args, message", [
    (("Ubuntu", "20.04", KERNEL),
     "gpu_driver supports Ubuntu 22.04 and 24.04, RHEL 9 (and Rocky Linux or AlmaLinux 9), Debian 12; this host runs Ubuntu 20.04"),
    (("RedHat", "8.10", "k"), "this host runs RedHat 8.10"),
    (("Debian", "11", "k"), "this host runs Debian 11"),
    (("Fedora", "41", "k"), "this host runs Fedora 41"),
    (("Ubuntu", "24.04", KERNEL, "58"), "gpu_driver_branch: '58' is not a driver branch"),
    (("Ubuntu", "24.04", KERNEL, True), "gpu_driver_branch: True is not a driver branch"),
])
def test_refused(args, message):
    with pytest.raises(DriverPlanError) as err:
        driver_plan(*args)
    assert message in str(err.value)


def test_debian_has_no_open_modules_package():
    with pytest.raises(DriverPlanError, match="Debian 12 packages only the proprietary kernel module"):
        driver_plan("Debian", "12", "k", open_modules=True)
