# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Status conditions of Kubernetes objects (plain dicts), read in one way by every layer."""

from __future__ import annotations

from typing import Any, Dict, Optional


def condition(obj: Optional[Dict[str, Any]], condition_type: str) -> Optional[Dict[str, Any]]:
    """The condition of that type in obj's status, or None."""
    entry: Dict[str, Any]
    for entry in ((obj or {}).get("status") or {}).get("conditions") or []:
        if entry.get("type") == condition_type:
            return entry
    return None


def condition_status(obj: Optional[Dict[str, Any]], condition_type: str) -> Optional[str]:
    """The status string ("True", "False", "Unknown") of a condition, or None when absent."""
    found = condition(obj, condition_type)
    return found.get("status") if found else None
