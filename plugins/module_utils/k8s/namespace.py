# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Namespaces the collection creates, with the Pod Security level their pods need."""

from __future__ import annotations

from typing import Any, Dict

MANAGED_BY = "inferops.kubernetes"


def pod_security_namespace(name: str, level: str) -> Dict[str, Any]:
    """A Namespace of this collection whose Pod Security level is enforced, audited and warned."""
    labels = {"app.kubernetes.io/managed-by": MANAGED_BY}
    for mode in ("enforce", "audit", "warn"):
        labels["pod-security.kubernetes.io/%s" % mode] = level
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
