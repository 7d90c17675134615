# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Waiting for objects to reach a state, with a timeout that ends in a message saying what was seen."""

from __future__ import annotations

import time

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.errors import K8sError


class K8sTimeoutError(K8sError):
    """The awaited state was not reached in time."""


def condition_status(obj, condition_type):
    """The status string ("True", "False", "Unknown") of a condition, or None when absent."""
    for condition in ((obj or {}).get("status") or {}).get("conditions") or []:
        if condition.get("type") == condition_type:
            return condition.get("status")
    return None


def wait_for(client, api_version, kind, name, namespace, predicate, timeout, describe, interval=1.0,
             clock=time.monotonic, sleep=time.sleep):
    """Poll until predicate(obj) is true; return obj. On timeout raise with describe(obj)."""
    deadline = clock() + timeout
    obj = None
    while True:
        obj = client.get(api_version, kind, name, namespace)
        if obj is not None and predicate(obj):
            return obj
        if clock() >= deadline:
            where = "%s/%s" % (namespace, name) if namespace else name
            raise K8sTimeoutError(
                "Timed out after %ss waiting for %s %s: %s" % (timeout, kind, where, describe(obj)),
                last_seen=obj,
            )
        sleep(interval)


def wait_for_crd_established(client, name, timeout=60):
    def describe(obj):
        if obj is None:
            return "the CustomResourceDefinition does not exist"
        for condition in (obj.get("status") or {}).get("conditions") or []:
            if condition.get("type") in ("Established", "NamesAccepted") and condition.get("status") != "True":
                return "%s is %s: %s" % (condition["type"], condition.get("status"), condition.get("message", ""))
        return "it is not Established yet"

    return wait_for(
        client, "apiextensions.k8s.io/v1", "CustomResourceDefinition", name, None,
        lambda obj: condition_status(obj, "Established") == "True", timeout, describe, interval=0.5,
    )
