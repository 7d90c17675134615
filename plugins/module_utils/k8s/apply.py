# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Server-side apply with one field manager, check mode as a server-side dry run, and quiet diffs.

Every API module that writes goes through `apply_objects`: CustomResourceDefinitions
first (and only then the objects they serve, once established), everything else in the
order given. Optimistic-lock conflicts, throttling and API restarts are retried.
"""

from __future__ import annotations

import copy
from functools import partial
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Set, Tuple

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.errors import K8sError, with_retries
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.waiter import Obj, wait_for_crd_established

if TYPE_CHECKING:
    from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.client import K8sClient

FIELD_MANAGER = "inferops.kubernetes"

# Metadata the API server maintains by itself: shown in no diff, compared by no `changed`.
NOISY_METADATA = ("managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink")

# Secret values never leave the module: results and diffs carry this instead.
REDACTED = "**redacted**"


def redact(obj: Obj) -> Obj:
    """A copy of obj with Secret values replaced; other kinds are returned as they are."""
    if not obj or obj.get("kind") != "Secret":
        return obj
    clean = copy.deepcopy(obj)
    for field in ("data", "stringData"):
        if clean.get(field):
            clean[field] = {key: REDACTED for key in clean[field]}
    return clean


def strip_noise(obj: Optional[Obj]) -> Obj:
    """A copy of obj without the fields that change on every write."""
    if not obj:
        return {}
    clean = copy.deepcopy(obj)
    metadata = clean.get("metadata") or {}
    for key in NOISY_METADATA:
        metadata.pop(key, None)
    annotations = metadata.get("annotations")
    if annotations is not None:
        annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
        if not annotations:
            metadata.pop("annotations")
    return clean


def object_ref(obj: Obj) -> str:
    metadata = obj.get("metadata") or {}
    ref = "%s/%s" % (obj.get("kind"), metadata.get("name"))
    if metadata.get("namespace"):
        ref = "%s %s/%s" % (obj.get("kind"), metadata["namespace"], metadata.get("name"))
    return ref


def _validate(obj: Any) -> None:
    """Reject an object that cannot be applied, before anything is written."""
    if not isinstance(obj, dict):
        raise K8sError("Each object must be a mapping, got %s." % type(obj).__name__)
    for field in ("apiVersion", "kind"):
        if not obj.get(field):
            raise K8sError("Object %s has no %s." % (obj.get("metadata", {}).get("name", "?"), field))
    if not (obj.get("metadata") or {}).get("name"):
        raise K8sError("A %s has no metadata.name." % obj["kind"])


def apply_object(client: K8sClient, obj: Obj, check_mode: bool = False, force_conflicts: bool = False,
                 field_manager: str = FIELD_MANAGER) -> Dict[str, Any]:
    """Apply one object; return {changed, result, diff, ref}. In check mode nothing is persisted."""
    _validate(obj)
    metadata = obj["metadata"]
    namespaced = client.namespaced(obj["apiVersion"], obj["kind"])
    namespace = metadata.get("namespace") if namespaced else None
    if namespaced and not namespace:
        raise K8sError("%s %s is namespaced: set metadata.namespace." % (obj["kind"], metadata["name"]))
    before = with_retries(lambda: client.get(obj["apiVersion"], obj["kind"], metadata["name"], namespace))
    after = with_retries(lambda: client.apply(obj, namespace=namespace, field_manager=field_manager,
                                              force_conflicts=force_conflicts, dry_run=check_mode))
    clean_before, clean_after = strip_noise(before), strip_noise(after)
    return {
        # compared before redaction, so a changed Secret value still reports a change
        "changed": clean_before != clean_after,
        "ref": object_ref(obj),
        "result": redact(after),
        "diff": {"before": redact(clean_before), "after": redact(clean_after)},
        "created": before is None,
    }


def _would_create(obj: Obj) -> Dict[str, Any]:
    clean = redact(strip_noise(obj))
    return {"changed": True, "ref": object_ref(obj), "result": clean, "diff": {"before": {}, "after": clean}, "created": True}


def apply_objects(client: K8sClient, objects: List[Obj], check_mode: bool = False, force_conflicts: bool = False,
                  field_manager: str = FIELD_MANAGER, crd_timeout: float = 60) -> Dict[str, Any]:
    """Apply a list of objects in a safe order; return {changed, results, diff}.

    Every object is validated before the first write. CRDs go first and are waited for
    until Established, so objects of their kinds resolve; Namespaces go next. In check mode
    a CRD or Namespace that does not exist yet cannot hold a dry run of what it would hold:
    those objects are reported as to be created.
    """
    for obj in objects:
        _validate(obj)
    crds = [o for o in objects if o["kind"] == "CustomResourceDefinition"]
    namespaces = [o for o in objects if o["kind"] == "Namespace" and o["apiVersion"] == "v1"]
    rest = [o for o in objects if o not in crds and o not in namespaces]
    results: List[Dict[str, Any]] = []
    pending_kinds: Set[Tuple[str, Optional[str]]] = set()
    pending_namespaces: Set[str] = set()
    for crd in crds:
        outcome = apply_object(client, crd, check_mode, force_conflicts, field_manager)
        results.append(outcome)
        if check_mode and outcome["created"]:
            spec = crd.get("spec") or {}
            for version in spec.get("versions") or []:
                pending_kinds.add(("%s/%s" % (spec.get("group"), version.get("name")), (spec.get("names") or {}).get("kind")))
        elif not check_mode:
            wait_for_crd_established(client, crd["metadata"]["name"], timeout=crd_timeout)
    if crds and not check_mode:
        client.invalidate_discovery()
    for namespace in namespaces:
        outcome = apply_object(client, namespace, check_mode, force_conflicts, field_manager)
        results.append(outcome)
        if check_mode and outcome["created"]:
            pending_namespaces.add(namespace["metadata"]["name"])
    for obj in rest:
        if (obj["apiVersion"], obj["kind"]) in pending_kinds or obj["metadata"].get("namespace") in pending_namespaces:
            results.append(_would_create(obj))
            continue
        results.append(apply_object(client, obj, check_mode, force_conflicts, field_manager))
    return {
        "changed": any(r["changed"] for r in results),
        "results": results,
        "diff": [
            dict(r["diff"], before_header=r["ref"], after_header=r["ref"]) for r in results if r["changed"]
        ],
    }


def _owns_content(entry: Dict[str, Any]) -> bool:
    """Whether a managedFields entry owns more than metadata.finalizers. A controller that only added its
    finalizer (KServe's on an InferenceService) keeps bookkeeping of its own; it does not share the object."""
    fields = entry.get("fieldsV1") or {}
    return bool(set(fields) - {"f:metadata"} or set(fields.get("f:metadata") or {}) - {"f:finalizers"})


def _writers(obj: Obj) -> Set[str]:
    """Field managers that write the object itself: status writers, and controllers that only add their
    finalizer, do not count."""
    entries = obj["metadata"].get("managedFields") or []
    return {e.get("manager") for e in entries if not e.get("subresource") and _owns_content(e)}


def remove_objects(client: K8sClient, objects: List[Obj], check_mode: bool = False, field_manager: str = FIELD_MANAGER) -> Dict[str, Any]:
    """Take back what apply_objects put there, in reverse order; return {changed, results, kept, diff}.

    An object only this field manager writes is deleted. From an object others write too, only this
    manager's fields are withdrawn: a server-side apply of a body without fields gives them up, and the
    API removes those nobody else owns. An object this manager never wrote is left alone. Objects that
    are gone, or already being deleted, are skipped.
    """
    results: List[Dict[str, Any]] = []
    kept: List[str] = []
    diffs: List[Dict[str, Any]] = []
    for obj in reversed(objects):
        metadata = obj["metadata"]
        ref = object_ref(obj)
        # partial rather than a lambda with defaults: it binds this object the same way, and mypy can type it
        current = with_retries(partial(client.get, obj["apiVersion"], obj["kind"], metadata["name"], metadata.get("namespace")))
        if current is None or current["metadata"].get("deletionTimestamp"):
            continue
        writers = _writers(current)
        if field_manager not in writers:
            kept.append("%s: not written by %s" % (ref, field_manager))
            continue
        others = sorted(writers - {field_manager})
        if others:
            bare = {"apiVersion": obj["apiVersion"], "kind": obj["kind"],
                    "metadata": {k: metadata[k] for k in ("name", "namespace") if k in metadata}}
            try:
                outcome = apply_objects(client, [bare], check_mode=check_mode, field_manager=field_manager)
            except K8sError as exc:
                if exc.details.get("status") != 422 and not exc.details.get("webhook"):
                    raise
                # what the others wrote is not a valid object on its own (a Service without its ports, an
                # InferenceService without a predictor that KServe's webhook refuses): the object cannot
                # outlive this manager's fields, so it goes
                kept.append("%s: also written by %s, but not valid without %s's fields: deleted" % (ref, ", ".join(others), field_manager))
            else:
                kept.append("%s: also managed by %s" % (ref, ", ".join(others)))
                results.append({"ref": ref, "changed": outcome["changed"], "created": False})
                diffs.extend(outcome["diff"])
                continue
        with_retries(partial(client.delete, obj["apiVersion"], obj["kind"], metadata["name"],
                             namespace=metadata.get("namespace"), dry_run=check_mode))
        results.append({"ref": ref, "changed": True, "created": False})
        diffs.append({"before": redact(strip_noise(current)), "after": {}, "before_header": ref, "after_header": ref})
    return {"changed": any(r["changed"] for r in results), "results": results, "kept": kept, "diff": diffs}


def applied_and_removed(applied: Dict[str, Any], removed: Dict[str, Any]) -> Dict[str, Any]:
    """A module's result keys from apply_objects' and remove_objects' outcomes: each object applied (changed,
    created), the refs removed as no longer wanted, and the diff of both."""
    return {
        "changed": applied["changed"] or removed["changed"],
        "objects": [{"ref": r["ref"], "changed": r["changed"], "created": r["created"]} for r in applied["results"]],
        "removed": [r["ref"] for r in removed["results"]],
        "diff": removed["diff"] + applied["diff"],
    }
