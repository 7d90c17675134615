# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A validated spec -> the stack's objects, in apply order. Apply and render both call `build_manifests`."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from ansible_collections.inferops.kubernetes.plugins.module_utils.stack import runtimes
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.builders import disruption_budget
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.objects import pod_security_namespace
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.spec import SpecError, reject_booleans_in_labels

if TYPE_CHECKING:
    from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.shapes import StackSpec


def merge(base, override):
    """override deep-merged into a copy of base: mappings merge, anything else (lists too) replaces."""
    result = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def apply_overrides(objects, overrides):
    """Each override merged into the built object of its kind (and name, when it gives one)."""
    objects = list(objects)
    for index, override in enumerate(overrides):
        name = (override.get("metadata") or {}).get("name")
        targets = [i for i, obj in enumerate(objects)
                   if obj["kind"] == override["kind"] and (name is None or obj["metadata"]["name"] == name)]
        if len(targets) != 1:
            built = ", ".join("%s/%s" % (o["kind"], o["metadata"]["name"]) for o in objects)
            raise SpecError("overrides[%d]: %s %s matches %s of the stack's objects (%s). Name one of them by kind and metadata.name."
                            % (index, override["kind"], name or "(any name)", "none" if not targets else "several", built))
        target = objects[targets[0]]
        if override.get("apiVersion", target["apiVersion"]) != target["apiVersion"]:
            raise SpecError("overrides[%d].apiVersion: %s differs from the stack's %s %s. Leave apiVersion out."
                            % (index, override["apiVersion"], target["kind"], target["apiVersion"]))
        merged = merge(target, override)
        if (merged["metadata"].get("name"), merged["metadata"].get("namespace")) != (
                target["metadata"]["name"], target["metadata"]["namespace"]):
            raise SpecError("overrides[%d].metadata: an override cannot rename or move an object. Use name and namespace." % index)
        reject_booleans_in_labels("overrides[%d]" % index, merged)
        objects[targets[0]] = merged
    return objects


def namespace(spec: StackSpec):
    """The stack's namespace, enforcing Pod Security `restricted`: the stack's pods are built to pass it."""
    return pod_security_namespace(spec["namespace"], "restricted")


def build_manifests(spec: StackSpec):
    """The runtime's objects in apply order (ConfigMaps and ServingRuntime first: pods read them; then the
    workload and Service), then the PodDisruptionBudget.

    With create_namespace, the Namespace comes first (apply_objects puts Namespaces first anyway).
    """
    objects = _stack_objects(spec)
    if spec.get("create_namespace"):
        objects.insert(0, namespace(spec))
    return objects


def _stack_objects(spec: StackSpec):
    objects = runtimes.get(spec["runtime"]).objects(spec)
    objects.append(disruption_budget.pod_disruption_budget(spec))
    return apply_overrides(objects, spec["overrides"])
