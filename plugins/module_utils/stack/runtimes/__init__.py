# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The serving runtimes the stack deploys: one file per runtime, each holding the runtime's facts
(images, ports, storage, health and metrics endpoints, warmup style, model options) and its
builders. Validation and the builders read the runtime object; no other file of the stack branches
on a runtime's name, so a new runtime is one new file here and one line in RUNTIMES.
"""

from __future__ import annotations

from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.builders import warmup as _warmup
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.runtimes import (
    kserve,
    onnxruntime,
    tensorflow_serving,
    torchserve,
    triton,
)

# Name -> runtime, in the order messages and the module's choices list them.
RUNTIMES = {r.name: r for r in (
    tensorflow_serving.RUNTIME,
    torchserve.RUNTIME,
    triton.RUNTIME,
    onnxruntime.RUNTIME,
    kserve.RUNTIME,
)}


def get(name):
    """The runtime registered under name (a KeyError for any other: spec.validate refuses unknown names first)."""
    return RUNTIMES[name]


# What the inference_stack module's argument spec reads (choices and defaults), by the names it reads them.
TRITON_BACKENDS = triton.BACKENDS
TRITON_INSTANCE_KINDS = triton.INSTANCE_KINDS
KSERVE_PROTOCOLS = kserve.PROTOCOLS
KSERVE_SCALE_METRICS = tuple(dict.fromkeys(m for metrics in kserve.SCALE_METRICS.values() for m in metrics))
WARMUP_IMAGE = _warmup.IMAGE
WARMUP_PORT = _warmup.PORT
