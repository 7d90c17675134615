# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shape of the device plugin's validated spec, as device_plugin/manifests.py `validate` returns it.

Plain dicts at run time; the TypedDicts tell a reader (and mypy) which keys there are and what they hold.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, TypedDict


class TimeSlicing(TypedDict):
    """sharing.timeSlicing of the plugin's config: each listed resource is advertised replicas times per GPU."""

    replicas: int
    rename_by_default: bool
    fail_requests_greater_than_one: bool
    #: nvidia.com/gpu, or nvidia.com/mig-<profile> with mig_strategy mixed
    resources: List[str]


class DevicePluginSpec(TypedDict):
    """The whole validated spec of the device plugin: every option checked, defaults filled in."""

    namespace: str
    image: str
    #: none, single or mixed
    mig_strategy: str
    time_slicing: Optional[TimeSlicing]
    runtime_class: bool
    priority_class_name: Optional[str]
    tolerations: List[Dict[str, Any]]
    node_selector: Dict[str, str]
