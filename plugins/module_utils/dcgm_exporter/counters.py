# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The counters dcgm-exporter collects, and its counters file (CSV: DCGM field, Prometheus type, help).

DEFAULT_COUNTERS is the enabled lines of dcgm-exporter's own etc/default-counters.csv at the tag of the
pinned image (4.5.3-4.8.2), read from its source: the field names are DCGM's and become the metric names,
so a name made up here would be a series that never exists. Lines commented out upstream (ECC, retired
pages, throttling, most NVLink and DCP fields) are left out here too.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Tuple

from ansible_collections.inferops.kubernetes.plugins.module_utils.dcgm_exporter.options import COUNTER_TYPES
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.validate import fail

# (DCGM field = metric name, Prometheus type, help), in upstream's order
DEFAULT_COUNTERS: Tuple[Tuple[str, str, str], ...] = (
    ("DCGM_FI_DEV_SM_CLOCK", "gauge", "SM clock frequency (in MHz)."),
    ("DCGM_FI_DEV_MEM_CLOCK", "gauge", "Memory clock frequency (in MHz)."),
    ("DCGM_FI_DEV_MEMORY_TEMP", "gauge", "Memory temperature (in C)."),
    ("DCGM_FI_DEV_GPU_TEMP", "gauge", "GPU temperature (in C)."),
    ("DCGM_FI_DEV_POWER_USAGE", "gauge", "Power draw (in W)."),
    ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "counter", "Total energy consumption since boot (in mJ)."),
    ("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "counter", "Total number of PCIe retries."),
    ("DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (in %)."),
    ("DCGM_FI_DEV_MEM_COPY_UTIL", "gauge", "Memory utilization (in %)."),
    ("DCGM_FI_DEV_ENC_UTIL", "gauge", "Encoder utilization (in %)."),
    ("DCGM_FI_DEV_DEC_UTIL", "gauge", "Decoder utilization (in %)."),
    ("DCGM_FI_DEV_XID_ERRORS", "gauge", "Value of the last XID error encountered."),
    ("DCGM_FI_DEV_FB_FREE", "gauge", "Framebuffer memory free (in MiB)."),
    ("DCGM_FI_DEV_FB_USED", "gauge", "Framebuffer memory used (in MiB)."),
    ("DCGM_FI_DEV_FB_RESERVED", "gauge", "Framebuffer memory reserved (in MiB)."),
    ("DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL", "counter", "Total number of NVLink bandwidth counters for all lanes."),
    ("DCGM_FI_DEV_VGPU_LICENSE_STATUS", "gauge", "vGPU License status"),
    ("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", "counter", "Number of remapped rows for uncorrectable errors"),
    ("DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", "counter", "Number of remapped rows for correctable errors"),
    ("DCGM_FI_DEV_ROW_REMAP_FAILURE", "gauge", "Whether remapping of rows has failed"),
    ("DCGM_FI_DRIVER_VERSION", "label", "Driver Version"),
    ("DCGM_FI_PROF_GR_ENGINE_ACTIVE", "gauge", "Ratio of time the graphics engine is active."),
    ("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "gauge", "Ratio of cycles the tensor (HMMA) pipe is active."),
    ("DCGM_FI_PROF_DRAM_ACTIVE", "gauge", "Ratio of cycles the device memory interface is active sending or receiving data."),
    ("DCGM_FI_PROF_PCIE_TX_BYTES", "gauge",
     "The rate of data transmitted over the PCIe bus - including both protocol headers and data payloads - in bytes per second."),
    ("DCGM_FI_PROF_PCIE_RX_BYTES", "gauge",
     "The rate of data received over the PCIe bus - including both protocol headers and data payloads - in bytes per second."),
)

# DCGM's field identifiers (dcgm_fields.h) and dcgm-exporter's own DCGM_EXP_* fields
FIELD_NAME = re.compile(r"^DCGM_(FI|EXP)_[A-Z0-9_]+$")


def valid_counters(value: Any) -> List[Dict[str, str]]:
    """counters checked (None: DEFAULT_COUNTERS), as dicts with field, type and help."""
    if value is None:
        return [{"field": f, "type": t, "help": h} for f, t, h in DEFAULT_COUNTERS]
    if not isinstance(value, list) or not value:
        fail("counters", "expected a non-empty list of counters", "Leave counters out for dcgm-exporter's defaults, or list {field, type, help} items.")
    checked, seen = [], set()
    for index, item in enumerate(value):
        path = "counters[%d]" % index
        if not isinstance(item, dict) or set(item) != {"field", "type", "help"}:
            fail(path, "expected field, type and help, got %r" % (item,),
                 "For example {field: DCGM_FI_DEV_GPU_UTIL, type: gauge, help: GPU utilization (in %%).}.")
        field, kind, text = item["field"], item["type"], item["help"]
        if not isinstance(field, str) or not FIELD_NAME.match(field):
            fail(path + ".field", "%r is not a DCGM field name" % (field,),
                 "Use a DCGM_FI_* name from DCGM's dcgm_fields.h (or DCGM_EXP_*), for example DCGM_FI_DEV_GPU_UTIL.")
        if field in seen:
            fail(path + ".field", "%s is listed twice" % field, "List each field once.")
        seen.add(field)
        if kind not in COUNTER_TYPES:
            fail(path + ".type", "%r is not a counter type" % (kind,), "Use %s." % ", ".join(COUNTER_TYPES))
        # the help text is one CSV column of one line: a comma is fine (only the first two split), a newline is not
        if not isinstance(text, str) or not text.strip() or "\n" in text:
            fail(path + ".help", "expected one line of text, got %r" % (text,), "Say what the field measures, with its unit.")
        checked.append({"field": field, "type": kind, "help": text.strip()})
    if all(c["type"] == "label" for c in checked):
        fail("counters", "every counter is of type label, so the exporter would serve no series",
             "Add at least one gauge or counter, for example DCGM_FI_DEV_GPU_UTIL.")
    return checked


def render_counters(counters: List[Dict[str, str]]) -> str:
    """The counters file dcgm-exporter reads (its -f / DCGM_EXPORTER_COLLECTORS), one field a line."""
    lines = ["# DCGM field, Prometheus metric type, help message (written by inferops.kubernetes.dcgm_exporter)"]
    lines += ["%s, %s, %s" % (c["field"], c["type"], c["help"]) for c in counters]
    return "\n".join(lines) + "\n"
