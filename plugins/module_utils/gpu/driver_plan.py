# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which repositories and packages install an NVIDIA driver branch on a supported OS.

Ubuntu: the server driver branches of Ubuntu's own archive (nvidia-driver-<branch>-server).
RHEL 9 and rebuilds: NVIDIA's CUDA repository and the nvidia-driver module stream <branch>-dkms.
Debian 12: non-free's nvidia-driver, whose branch is the one Debian ships.
"""

from __future__ import annotations

import re

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.errors import InputError

SUPPORTED = "Ubuntu 22.04 and 24.04, RHEL 9 (and Rocky Linux or AlmaLinux 9), Debian 12"
RHEL_LIKE = ("RedHat", "Rocky", "AlmaLinux", "CentOS")


class DriverPlanError(InputError):
    """An OS or branch this role cannot serve, with the reason."""


def _branch(branch, where="gpu_driver_branch"):
    text = str(branch)
    if isinstance(branch, bool) or not re.match(r"^\d{3}$", text):
        raise DriverPlanError("%s: %r is not a driver branch; give the three-digit branch such as 535 or 580" % (where, branch))
    return text


def driver_plan(distribution, version, kernel, branch=None, open_modules=False, kernel_headers=True):
    """{family, repositories, packages, module_stream, branch} for the host.

    distribution/version/kernel: ansible_distribution, ansible_distribution_version, ansible_kernel.
    branch: None takes the OS's default branch.
    """
    major = str(version).split(".", maxsplit=1)[0]
    if distribution == "Ubuntu" and str(version) in ("22.04", "24.04"):
        chosen = _branch(branch or "580")
        suffix = "-server-open" if open_modules else "-server"
        packages = ["nvidia-driver-%s%s" % (chosen, suffix), "nvidia-utils-%s-server" % chosen]
        if kernel_headers:
            packages.insert(0, "linux-headers-%s" % kernel)
        return {"family": "apt", "branch": chosen, "repositories": [], "module_stream": None, "packages": packages,
                "check_package": packages[-2]}
    if distribution in RHEL_LIKE and major == "9":
        chosen = _branch(branch or "580")
        stream = "%s-%s" % (chosen, "open" if open_modules else "dkms")
        packages = ["kernel-devel-%s" % kernel, "kernel-headers-%s" % kernel] if kernel_headers else []
        return {
            "family": "dnf",
            "branch": chosen,
            "repositories": [{
                "name": "cuda-rhel9",
                "description": "NVIDIA CUDA repository for RHEL 9",
                "baseurl": "https://developer.download.nvidia.com/compute/cuda/repos/rhel9/$basearch",
                "gpgkey": "https://developer.download.nvidia.com/compute/cuda/repos/rhel9/$basearch/D42D0685.pub",
            }],
            "module_stream": "nvidia-driver:%s" % stream,
            "packages": packages + ["@nvidia-driver:%s" % stream],
            "check_package": None,
        }
    if distribution == "Debian" and major == "12":
        if open_modules:
            raise DriverPlanError("gpu_driver_open_kernel_modules: Debian 12 packages only the proprietary kernel module")
        chosen = _branch(branch) if branch else None
        packages = ["nvidia-driver", "firmware-misc-nonfree", "nvidia-smi"]
        if kernel_headers:
            packages.insert(0, "linux-headers-%s" % kernel)
        return {"family": "apt", "branch": chosen, "repositories": ["contrib", "non-free", "non-free-firmware"],
                "module_stream": None, "packages": packages, "check_package": "nvidia-driver"}
    raise DriverPlanError("gpu_driver supports %s; this host runs %s %s" % (SUPPORTED, distribution, version))
