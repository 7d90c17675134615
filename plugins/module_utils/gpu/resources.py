# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The NVIDIA device plugin's vocabulary, in one place: MIG strategies, MIG profile names, and the
`nvidia.com/*` extended resource names it advertises.

On a GPU host the MIG profiles a device supports come from NVML (gpu/nvml.py, gpu/mig.py), never from
a table. Only where no device is at hand (a controller validating a model service before any node is
read) does KNOWN_PROFILES_WITHOUT_A_DEVICE stand in, and it says so in its name.
"""

from __future__ import annotations

import re
from typing import Dict, Optional, Tuple

# How the device plugin advertises MIG devices: none (whole GPUs only), single (MIG devices as
# nvidia.com/gpu, one profile per node), mixed (nvidia.com/mig-<profile> per profile).
MIG_STRATEGIES = ("none", "single", "mixed")

GPU = "nvidia.com/gpu"
SHARED_SUFFIX = ".shared"
MIG_PREFIX = "nvidia.com/mig-"

# A GPU instance profile as NVML and the device plugin name it: <slices>g.<memory>gb, optionally with
# media extensions (+me, +me.all, -me, +gfx), optionally behind a compute-instance part (1c.) that the
# device plugin puts in front when a compute instance spans only part of its GPU instance.
_PROFILE = r"(?:[0-9]+c\.)?[0-9]+g\.[0-9]+gb(?:[+-][a-z]+(?:\.[a-z]+)?)?"
PROFILE_NAME = re.compile(r"^%s$" % _PROFILE)
GPU_INSTANCE_PROFILE = re.compile(r"^[0-9]+g\.[0-9]+gb(?:[+-][a-z]+(?:\.[a-z]+)?)?$")
RESOURCE_NAME = re.compile(r"^nvidia\.com/(?:(?P<gpu>gpu)|mig-(?P<profile>%s))(?P<shared>\.shared)?$" % _PROFILE)


def classify(resource_name: str) -> Optional[Tuple[str, Optional[str]]]:
    """('gpu'|'mig'|'shared', MIG profile or None) for an NVIDIA GPU resource name, None for anything else.

    nvidia.com/gpu, nvidia.com/mig-1g.10gb, nvidia.com/mig-1g.10gb+me; a time-sliced one ends in .shared.
    """
    match = RESOURCE_NAME.match(resource_name)
    if not match:
        return None
    if match.group("shared"):
        return "shared", match.group("profile")
    if match.group("profile"):
        return "mig", match.group("profile")
    return "gpu", None


def mig_resource(profile: str) -> str:
    """The resource name of a MIG profile under the mixed strategy."""
    return MIG_PREFIX + profile


# MIG profiles of each GPU model (NVIDIA's MIG user guide), by the product name GPU feature discovery
# puts in nvidia.com/gpu.product. For checking a spec where no device is known; hosts read NVML.
KNOWN_PROFILES_WITHOUT_A_DEVICE: Dict[str, Tuple[str, ...]] = {
    "A30": ("1g.6gb", "1g.6gb+me", "2g.12gb", "2g.12gb+me", "4g.24gb"),
    "A100-40GB": ("1g.5gb", "1g.5gb+me", "1g.10gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb"),
    "A100-80GB": ("1g.10gb", "1g.10gb+me", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"),
    "H100-80GB": ("1g.10gb", "1g.10gb+me", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"),
    "H100-94GB": ("1g.12gb", "1g.12gb+me", "1g.24gb", "2g.24gb", "3g.47gb", "4g.47gb", "7g.94gb"),
    "H100-96GB": ("1g.12gb", "1g.12gb+me", "1g.24gb", "2g.24gb", "3g.48gb", "4g.48gb", "7g.96gb"),
    "H200": ("1g.18gb", "1g.18gb+me", "1g.35gb", "2g.35gb", "3g.71gb", "4g.71gb", "7g.141gb"),
    "B200": ("1g.23gb", "1g.23gb+me", "1g.45gb", "2g.45gb", "3g.90gb", "4g.90gb", "7g.180gb"),
}
ALL_KNOWN_PROFILES = tuple(sorted({p for profiles in KNOWN_PROFILES_WITHOUT_A_DEVICE.values() for p in profiles}))


def mig_family(product: str) -> Optional[str]:
    """The KNOWN_PROFILES_WITHOUT_A_DEVICE key of a nvidia.com/gpu.product value (NVIDIA-A100-SXM4-80GB -> A100-80GB), or None."""
    for model in ("A100", "H100", "H200", "A30", "B200"):
        if re.search(r"(^|-)%s(-|$)" % model, product):
            memory = re.search(r"-([0-9]+)GB", product)
            if model in ("A100", "H100"):
                if not memory:
                    return "H100-94GB" if "NVL" in product else None
                model = "%s-%sGB" % (model, memory.group(1))
            return model if model in KNOWN_PROFILES_WITHOUT_A_DEVICE else None
    return None
