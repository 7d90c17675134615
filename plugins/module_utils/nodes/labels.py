# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""GPU node labels and taints: derived from gpu_facts the way GPU feature discovery derives them,
validated, and planned as at most one write per node.

Ownership: the labels and taints this collection set are listed in two annotations on the
node. A label or taint that is owned but no longer desired is removed; anything else on the
node (set by kubelet, GFD, an operator or a person) is left alone.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.errors import InputError
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.errors import K8sError
from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.resources import MIG_STRATEGIES
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.validate import TAINT_EFFECTS, qualified_name_problem, valid_label_value

OWNED_LABELS = "inferops.kubernetes/owned-labels"
OWNED_TAINTS = "inferops.kubernetes/owned-taints"
# Writes in flight at once: enough to hide the round trip, few enough not to crowd the API server.
WRITE_WORKERS = 8


class LabelError(InputError):
    """Bad input, named by its field, found before anything is written."""


def check_key(key, where):
    if qualified_name_problem(key):
        raise LabelError("%s: %r is not a valid label or taint key (an optional DNS prefix, '/', and a name of at most "
                         "63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit)" % (where, key))


def _product(name):
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name.strip()).strip("-_.")


def labels_from_facts(facts, mig_strategy, where):
    """The GPU feature discovery labels for a node with these gpu_facts."""
    if mig_strategy not in MIG_STRATEGIES:
        raise LabelError("%s.mig_strategy: %r is not one of %s" % (where, mig_strategy, ", ".join(MIG_STRATEGIES)))
    gpus = facts.get("gpus") or []
    if not facts.get("gpu_present") or not gpus:
        return {"nvidia.com/gpu.present": "false"}
    products = sorted({g["name"] for g in gpus})
    if len(products) > 1:
        raise LabelError("%s.gpu_facts: the node has different GPU models (%s); one product label cannot describe them"
                         % (where, ", ".join(products)))
    first = gpus[0]
    product = _product(first["name"])
    labels = {
        "nvidia.com/gpu.present": "true",
        "nvidia.com/gpu.product": product,
        "nvidia.com/gpu.memory": str(first["memory_total_mib"]),
        "nvidia.com/gpu.count": str(len(gpus)),
        "nvidia.com/mig.capable": "true" if first.get("mig_capable") else "false",
        "nvidia.com/mig.strategy": mig_strategy,
    }
    driver = facts.get("driver_version")
    if driver:
        parts = (driver.split(".") + ["0", "0"])[:3]
        labels.update({
            "nvidia.com/cuda.driver-version.full": driver,
            "nvidia.com/cuda.driver.major": parts[0],
            "nvidia.com/cuda.driver.minor": parts[1],
            "nvidia.com/cuda.driver.rev": parts[2],
        })
    cuda = facts.get("cuda_driver_version")
    if cuda:
        major, _dot, minor = cuda.partition(".")
        labels.update({"nvidia.com/cuda.runtime-version.full": cuda,
                       "nvidia.com/cuda.runtime.major": major, "nvidia.com/cuda.runtime.minor": minor or "0"})
    mig = [(d["profile"], g) for g in gpus for d in g.get("mig_devices") or []]
    if mig_strategy == "mixed":
        for profile in sorted({p for p, _g in mig}):
            memory = next(p["memory_mib"] for _p, g in mig for p in g["mig_profiles"] if p["name"] == profile)
            labels["nvidia.com/mig-%s.count" % profile] = str(sum(1 for p, _g in mig if p == profile))
            labels["nvidia.com/mig-%s.memory" % profile] = str(memory)
            labels["nvidia.com/mig-%s.product" % profile] = "%s-MIG-%s" % (product, profile)
    elif mig_strategy == "single" and mig:
        profiles = sorted({p for p, _g in mig})
        if len(profiles) > 1 or any(not g.get("mig_devices") for g in gpus):
            raise LabelError("%s.mig_strategy: single needs the same MIG profile on every GPU of the node; it has %s. "
                             "Use mixed, or one layout on all GPUs." % (where, ", ".join(profiles)))
        memory = next(p["memory_mib"] for p in first["mig_profiles"] if p["name"] == profiles[0])
        labels.update({
            "nvidia.com/gpu.product": "%s-MIG-%s" % (product, profiles[0]),
            "nvidia.com/gpu.count": str(len(mig)),
            "nvidia.com/gpu.memory": str(memory),
        })
    for key, value in labels.items():
        valid_label_value("%s (derived %s)" % (where, key), value)
    return labels


def label_facts(facts):
    """Of a gpu_facts result, only what labels_from_facts reads: the same labels come from it, in a tenth of the size.

    Kept: gpu_present, driver_version, cuda_driver_version and per GPU its name, memory_total_mib, mig_capable,
    the profile of each MIG device, and the name and memory of the MIG profiles in use on the node. Left out:
    processes, PCI and UUID, placements, and the profiles no device uses."""
    if not isinstance(facts, dict):
        return facts
    gpus = [g for g in facts.get("gpus") or [] if isinstance(g, dict)]
    used = {d.get("profile") for g in gpus for d in g.get("mig_devices") or [] if isinstance(d, dict)}
    trimmed = {k: facts[k] for k in ("gpu_present", "driver_version", "cuda_driver_version") if k in facts}
    trimmed["gpus"] = [dict({k: g[k] for k in ("name", "memory_total_mib", "mig_capable") if k in g},
                            mig_devices=[{"profile": d.get("profile")} for d in g.get("mig_devices") or [] if isinstance(d, dict)],
                            mig_profiles=[{"name": p.get("name"), "memory_mib": p.get("memory_mib")}
                                          for p in g.get("mig_profiles") or [] if isinstance(p, dict) and p.get("name") in used])
                       for g in gpus]
    return trimmed


def facts_summary(facts):
    """What the result's invocation shows of a gpu_facts dict: whether a GPU is there, the products and the count.

    The whole gpu_facts result (~2-3 KB a node: every GPU's processes, MIG profiles, PCI ids) is the module's
    input, not something to send back; echoed for 1000 nodes it was megabytes, and most of a no-op run."""
    if not isinstance(facts, dict):
        return facts
    gpus = [g for g in facts.get("gpus") or [] if isinstance(g, dict)]
    return {"gpu_present": bool(facts.get("gpu_present")), "gpu_count": len(gpus),
            "products": sorted({str(g["name"]) for g in gpus if g.get("name")})}


def invocation(params):
    """The result's invocation: the module arguments with each node's gpu_facts replaced by facts_summary().

    AnsibleModule adds invocation.module_args (all of params) only when the result has no invocation key;
    remove_values still runs over the whole result afterwards, so no_log options stay hidden."""
    args = dict(params)
    args["nodes"] = [dict(n, gpu_facts=facts_summary(n["gpu_facts"])) if isinstance(n, dict) and n.get("gpu_facts") is not None
                     else n for n in params.get("nodes") or []]
    return {"module_args": args}


def _taint(taint, where):
    if not isinstance(taint, dict) or not taint.get("key"):
        raise LabelError("%s: a taint needs key, effect and optionally value" % where)
    check_key(taint["key"], "%s.key" % where)
    if taint.get("effect") not in TAINT_EFFECTS:
        raise LabelError("%s.effect: %r is not one of %s" % (where, taint.get("effect"), ", ".join(TAINT_EFFECTS)))
    clean = {"key": taint["key"], "effect": taint["effect"]}
    if taint.get("value") not in (None, ""):
        clean["value"] = valid_label_value("%s.value" % where, taint["value"], integers=True)
    return clean


def desired_state(spec, where):
    """{labels, taints} for one node entry: its labels (derived and given) and taints, all validated."""
    labels = {}
    if spec.get("gpu_facts") is not None:
        labels.update(labels_from_facts(spec["gpu_facts"], spec.get("mig_strategy") or "none", where))
    for key, value in (spec.get("labels") or {}).items():
        check_key(key, "%s.labels" % where)
        labels[key] = valid_label_value("%s.labels.%s" % (where, key), value, integers=True)
    taints = [_taint(t, "%s.taints[%d]" % (where, i)) for i, t in enumerate(spec.get("taints") or [])]
    seen = set()
    for taint in taints:
        if (taint["key"], taint["effect"]) in seen:
            raise LabelError("%s.taints: %s:%s is given twice" % (where, taint["key"], taint["effect"]))
        seen.add((taint["key"], taint["effect"]))
    return {"labels": labels, "taints": taints}


def _owned(annotations, key):
    return [item for item in (annotations.get(key) or "").split(",") if item]


def plan_node(node, desired):
    """The merge patch that brings a node to its desired labels and taints, or None when it is there already."""
    metadata = node.get("metadata") or {}
    labels = metadata.get("labels") or {}
    annotations = metadata.get("annotations") or {}
    owned_labels = set(_owned(annotations, OWNED_LABELS))
    owned_taints = set(_owned(annotations, OWNED_TAINTS))

    label_patch = {k: v for k, v in desired["labels"].items() if labels.get(k) != v}
    removed = sorted(k for k in owned_labels - set(desired["labels"]) if k in labels)
    label_patch.update({k: None for k in removed})

    current_taints = (node.get("spec") or {}).get("taints") or []
    desired_ids = {"%s:%s" % (t["key"], t["effect"]) for t in desired["taints"]}
    # taints of others are kept as they are (NoExecute ones carry timeAdded)
    kept = [t for t in current_taints if "%s:%s" % (t.get("key"), t.get("effect")) not in owned_taints | desired_ids]
    new_taints = kept + desired["taints"]

    new_owned_labels = ",".join(sorted(desired["labels"]))
    new_owned_taints = ",".join(sorted(desired_ids))
    annotation_patch = {}
    if annotations.get(OWNED_LABELS, "") != new_owned_labels:
        annotation_patch[OWNED_LABELS] = new_owned_labels or None
    if annotations.get(OWNED_TAINTS, "") != new_owned_taints:
        annotation_patch[OWNED_TAINTS] = new_owned_taints or None
    annotation_patch = {k: v for k, v in annotation_patch.items() if v is not None or k in annotations}

    taints_change = sorted(map(_taint_id, current_taints)) != sorted(map(_taint_id, new_taints))
    if not (label_patch or annotation_patch or taints_change):
        return None
    patch = {"metadata": {"resourceVersion": metadata.get("resourceVersion")}}
    if label_patch:
        patch["metadata"]["labels"] = label_patch
    if annotation_patch:
        patch["metadata"]["annotations"] = annotation_patch
    if taints_change:
        patch["spec"] = {"taints": new_taints}
    return {
        "patch": patch,
        "labels_set": sorted(k for k, v in label_patch.items() if v is not None),
        "labels_removed": removed,
        "labels_before": {k: labels[k] for k in sorted(label_patch) if k in labels},
        "labels_after": {k: v for k, v in sorted(label_patch.items()) if v is not None},
        "taints_before": [_plain(t) for t in current_taints],
        "taints_after": [_plain(t) for t in new_taints],
    }


def _plain(taint):
    return {k: taint[k] for k in ("key", "value", "effect") if taint.get(k) not in (None, "")}


def _taint_id(taint):
    return (taint.get("key"), taint.get("value") or "", taint.get("effect"))


def apply_node_labels(client, specs, check_mode, retries=5):
    """Validate every entry, read the nodes with one LIST, then write once per node that differs."""
    desired = {}
    for index, spec in enumerate(specs):
        where = "nodes[%d]" % index
        name = spec.get("name")
        if not name:
            raise LabelError("%s.name is required" % where)
        if name in desired:
            raise LabelError("%s.name: node %s is listed twice" % (where, name))
        desired[name] = (where, desired_state(spec, where))
    nodes = {n["metadata"]["name"]: n for n in client.list("v1", "Node")}
    missing = ["%s.name: %s" % (where, name) for name, (where, _want) in desired.items() if name not in nodes]
    if missing:
        raise LabelError("no such node in the cluster: %s" % "; ".join(missing))

    def label_one(name, want):
        """One node: plan, write if needed (re-read and re-plan on a conflict). Returns (entry, wrote)."""
        node, step = nodes[name], None
        for attempt in range(retries + 1):
            step = plan_node(node, want)
            if step is None:
                break
            try:
                client.patch("v1", "Node", name, step["patch"], dry_run=check_mode)
                break
            except K8sError as exc:
                # another writer changed the node since it was read: read it again and re-plan
                if exc.details.get("status") != 409 or attempt == retries:
                    raise
                node = client.get("v1", "Node", name)
        entry = {"name": name, "changed": step is not None}
        if step is not None:
            entry.update({k: step[k] for k in ("labels_set", "labels_removed", "labels_before", "labels_after",
                                               "taints_before", "taints_after")})
        return entry, step is not None and not check_mode

    # Nodes are independent: a few writes in flight at once, the order of the results kept.
    with ThreadPoolExecutor(max_workers=max(1, min(WRITE_WORKERS, len(desired)))) as pool:
        done = list(pool.map(lambda item: label_one(item[0], item[1][1]), desired.items()))
    results = [entry for entry, _wrote in done]
    writes = sum(1 for _entry, wrote in done if wrote)
    return {"changed": any(r["changed"] for r in results), "nodes": results, "api_writes": writes}
