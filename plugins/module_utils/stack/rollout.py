# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wait for a stack's rollout and roll a Deployment back.

Readiness and the wait are k8s/waiter.py's (a Deployment rolled out as `kubectl rollout status` sees it,
an InferenceService Ready for its current generation); why it is not ready is k8s/diagnose.py's.
"""

from __future__ import annotations

import copy
import json
import time

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.apply import FIELD_MANAGER, apply_object
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.diagnose import (
    TEMPLATE_HASH,
    diagnose_unready,
    object_ref,
    owned_replicasets,
    revision,
)
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.errors import with_retries
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.waiter import has_readiness, wait_until_ready


def wait_for_rollout(client, objects, timeout, interval=1.0, sleep=time.sleep, clock=time.monotonic):
    """Wait until every object with a readiness rule (the stack's Deployment or InferenceService) is ready, at most timeout seconds.

    Returns {"ready", "elapsed_s", "objects": [{"kind", "name", "namespace", "ready", "reason"}], "diagnosis"};
    diagnosis lists findings of k8s/diagnose (each with "object" added) and is filled only when not ready.
    A Deployment past its progress deadline, or paused, ends the wait early: it will not become ready by waiting.
    """
    targets = [(obj["apiVersion"], obj["kind"], obj["metadata"].get("name"), obj["metadata"].get("namespace"))
               for obj in objects if has_readiness(obj["apiVersion"], obj["kind"])]
    states, elapsed = wait_until_ready(client, targets, timeout, interval=interval, sleep=sleep, clock=clock)
    return {
        "ready": all(state["ready"] for state in states),
        "elapsed_s": elapsed,
        "objects": [{key: state[key] for key in ("kind", "name", "namespace", "ready", "reason")} for state in states],
        "diagnosis": diagnose_unready(client, states),
    }


def _extract(value, fields):
    """The part of value that a managedFields fieldsV1 set covers."""
    if not fields:
        return copy.deepcopy(value)
    if isinstance(value, dict):
        return {key[2:]: _extract(value[key[2:]], sub) for key, sub in fields.items() if key.startswith("f:") and key[2:] in value}
    if isinstance(value, list):
        keyed = [(json.loads(key[2:]), sub) for key, sub in fields.items() if key.startswith("k:")]
        sets = [json.loads(key[2:]) for key in fields if key.startswith("v:")]
        out = []
        for item in value:
            for ident, sub in keyed:
                if isinstance(item, dict) and all(item.get(k) == v for k, v in ident.items()):
                    part = _extract(item, sub) if set(sub) - {"."} else copy.deepcopy(item)
                    part.update(ident)
                    out.append(part)
                    break
            else:
                if item in sets:
                    out.append(copy.deepcopy(item))
        return out
    return copy.deepcopy(value)


def applied_config(obj, manager=FIELD_MANAGER):
    """What `manager` last applied to obj (server-side apply), rebuilt from managedFields; None if it never applied."""
    metadata = obj.get("metadata") or {}
    entries = [m for m in metadata.get("managedFields") or [] if m.get("manager") == manager and m.get("operation") == "Apply"]
    if not entries:
        return None
    config = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind")}
    for entry in entries:
        config.update(_extract({k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}, entry.get("fieldsV1") or {}))
    config.setdefault("metadata", {})
    config["metadata"]["name"] = metadata.get("name")
    if metadata.get("namespace"):
        config["metadata"]["namespace"] = metadata["namespace"]
    config.pop("status", None)
    return config


def _clean_template(template):
    template = copy.deepcopy(template or {})
    meta = template.setdefault("metadata", {})
    (meta.get("labels") or {}).pop(TEMPLATE_HASH, None)
    meta.pop("creationTimestamp", None)
    return template


def rollback(client, namespace, name):
    """Put a Deployment's pod template back to that of its previous revision (like `kubectl rollout undo`).

    The template is written by server-side apply under this collection's field manager, over the rest of
    what that manager last applied, so a later apply of the new spec takes effect again without a conflict.
    Returns {"rolled_back", "from_revision", "to_revision", "reason"}.
    """
    dep = client.get("apps/v1", "Deployment", name, namespace)
    ref = object_ref("Deployment", namespace, name)
    if dep is None:
        return {"rolled_back": False, "from_revision": 0, "to_revision": 0, "reason": "%s does not exist." % ref}
    current = revision(dep)
    if (dep.get("spec") or {}).get("paused"):
        return {"rolled_back": False, "from_revision": current, "to_revision": current,
                "reason": "%s is paused; resume it before rolling back." % ref}
    older = [rs for rs in owned_replicasets(client, dep) if 0 < revision(rs) < current]
    if not older:
        return {"rolled_back": False, "from_revision": current, "to_revision": current,
                "reason": "%s has no revision before %s to roll back to." % (ref, current)}
    previous = max(older, key=revision)
    target = revision(previous)
    template = _clean_template((previous.get("spec") or {}).get("template"))
    config = applied_config(dep)
    if config is not None:
        config.setdefault("spec", {})["template"] = template
        # force: a rollback is an explicit decision to own the template again, whoever edited it since
        apply_object(client, config, force_conflicts=True)
        how = "server-side apply of the revision %s template" % target
    else:
        with_retries(lambda: client.patch(
            "apps/v1", "Deployment", name, [{"op": "replace", "path": "/spec/template", "value": template}],
            namespace=namespace, content_type="application/json-patch+json", field_manager=FIELD_MANAGER,
        ))
        how = "patch of the revision %s template (the Deployment was not applied by %s)" % (target, FIELD_MANAGER)
    return {
        "rolled_back": True, "from_revision": current, "to_revision": target,
        "reason": "%s rolled back from revision %s to revision %s by %s; the controller records it as revision %s."
                  % (ref, current, target, how, current + 1),
    }
