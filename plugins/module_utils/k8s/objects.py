# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pieces every capability's objects share: who manages them, the config digest that rolls pods, and
namespaces with the Pod Security level their pods need."""

from __future__ import annotations

import hashlib
from typing import Any, Dict

MANAGED_BY = "inferops.kubernetes"

# On a pod template: the digest of the configuration its pods read, so a changed config rolls the pods.
CONFIG_HASH_ANNOTATION = "inferops.kubernetes/config-sha256"


def config_digest(text: str) -> str:
    """The CONFIG_HASH_ANNOTATION value of a configuration, given as text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def pod_security_namespace(name: str, level: str) -> Dict[str, Any]:
    """A Namespace of this collection whose Pod Security level is enforced, audited and warned."""
    labels = {"app.kubernetes.io/managed-by": MANAGED_BY}
    for mode in ("enforce", "audit", "warn"):
        labels["pod-security.kubernetes.io/%s" % mode] = level
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
