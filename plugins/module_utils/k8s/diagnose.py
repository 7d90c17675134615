# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Why the pods of a workload are not ready: one finding per pod, naming the cause and the fix.

Works on any namespace and label selector (a Deployment's pods, an InferenceService's predictor
pods, anything else). The evidence is what the cluster itself says: the pod's conditions and
container statuses, the events the scheduler and the kubelet wrote about it, the logs of a crashed
container, and for a pod that is not scheduled, the nodes' allocatable GPU resources minus the
requests of the pods already bound to them (counted by gpu_inventory, as the scheduler counts them).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Set, Tuple, Union

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.conditions import condition
from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.inventory import (
    build_inventory,
    pod_gpu_requests,
)
from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.resources import classify
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.errors import K8sError
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.waiter import Obj, pod_ready

if TYPE_CHECKING:
    from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.client import K8sClient

# What diagnose_workload answers for one pod: {cause, pod, message, details}.
Finding = Dict[str, Any]

CAUSES = (
    "insufficient_gpu", "node_selector_mismatch", "untolerated_taint", "image_pull",
    "crash_loop", "probe_failure", "unschedulable", "pending_other",
)

IMAGE_PULL_REASONS = (
    "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull",
    "RegistryUnavailable", "SignatureValidationFailed", "ErrImageInspect",
)
REVISION = "deployment.kubernetes.io/revision"
TEMPLATE_HASH = "pod-template-hash"
KSERVE_POD_LABEL = "serving.kserve.io/inferenceservice"
# Enough for the cause and the summary after it: Triton prints a 30-line options table after the error.
LOG_TAIL_LINES = 100
LOG_TIMEOUT = 10

# "0/6 nodes are available: 1 node(s) had untolerated taint(s), 5 Insufficient nvidia.com/gpu. preemption: ..."
_SCHEDULER_MESSAGE = re.compile(r"^\s*(?P<available>\d+)/(?P<total>\d+) nodes are available(?::\s*(?P<reasons>.*))?$", re.S)
_REASON_ITEM = re.compile(r"^(?P<count>\d+)\s+(?P<reason>.+)$")
_PROBE_EVENT = re.compile(r"^(?P<probe>Readiness|Liveness|Startup) probe (?:failed|errored)", re.I)
# The kubelet's event when it restarts a container for a failed probe ("Container model failed startup probe,
# will be restarted"). Without it a restart is the process's own exit, whatever the probes said meanwhile.
_PROBE_KILL = re.compile(r"failed (?P<probe>liveness|startup) probe", re.I)

# What crashed serving processes print when the model is not where they look for it.
_MISSING_MODEL = re.compile(
    r"no such file or directory|does not exist|not found|could not find|no versions of servable|"
    r"failed to load|model.*missing|unable to (?:open|find|load)",
    re.I,
)


def label_selector(selector: Union[None, str, Dict[str, Any]]) -> str:
    """A label selector string from a string, a {label: value} dict or a LabelSelector dict."""
    if selector is None:
        return ""
    if isinstance(selector, str):
        return selector
    if "matchLabels" in selector or "matchExpressions" in selector:
        parts = ["%s=%s" % (k, v) for k, v in sorted((selector.get("matchLabels") or {}).items())]
        for expr in selector.get("matchExpressions") or []:
            operator, key, values = expr.get("operator"), expr.get("key"), expr.get("values") or []
            if operator == "In":
                parts.append("%s in (%s)" % (key, ",".join(values)))
            elif operator == "NotIn":
                parts.append("%s notin (%s)" % (key, ",".join(values)))
            elif operator == "Exists":
                parts.append(key)
            elif operator == "DoesNotExist":
                parts.append("!%s" % key)
        return ",".join(parts)
    return ",".join("%s=%s" % (k, v) for k, v in sorted(selector.items()))


def parse_scheduler_message(message: Optional[str]) -> Optional[Dict[str, Any]]:
    """Per-reason node counts of a FailedScheduling message, or None when it is not one.

    {"available": 0, "total": 6, "reasons": {"Insufficient nvidia.com/gpu": 5, "node(s) had untolerated taint(s)": 1}}
    """
    match = _SCHEDULER_MESSAGE.match(message or "")
    if not match:
        return None
    reasons: Dict[str, int] = {}
    text = match.group("reasons") or ""
    # The reasons end at the first sentence break ("... nvidia.com/gpu. preemption: ..."); a resource
    # name holds dots but never a dot followed by a space.
    text = re.split(r"\.(?:\s|$)", text, maxsplit=1)[0]
    for item in re.split(r",\s*(?=\d+\s)", text):
        found = _REASON_ITEM.match(item.strip())
        if found:
            reason = found.group("reason").strip()
            reasons[reason] = reasons.get(reason, 0) + int(found.group("count"))
    return {"available": int(match.group("available")), "total": int(match.group("total")), "reasons": reasons}


def _expression_matches(expr: Obj, labels: Dict[str, Any]) -> bool:
    key: Any  # as the user wrote it: a string, or missing
    key, operator, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
    present = key in labels
    value: Any = labels.get(key)
    if operator == "In":
        return present and value in values
    if operator == "NotIn":
        return not present or value not in values
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt") and present and values:
        try:
            left, right = int(value), int(values[0])
        except ValueError:
            return False
        return left > right if operator == "Gt" else left < right
    return False


def _term_matches(term: Obj, node: Obj) -> bool:
    metadata = node.get("metadata") or {}
    labels = metadata.get("labels") or {}
    fields = {"metadata.name": metadata.get("name")}
    return (all(_expression_matches(e, labels) for e in term.get("matchExpressions") or [])
            and all(_expression_matches(e, fields) for e in term.get("matchFields") or []))


def selector_matches(pod_spec: Obj, node: Obj) -> bool:
    """Whether the pod's nodeSelector and required node affinity allow the node."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    for key, value in (pod_spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    required = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = required.get("nodeSelectorTerms") or []
    if terms and not any(_term_matches(term, node) for term in terms):
        return False
    return True


def _tolerates(toleration: Obj, taint: Obj) -> bool:
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return False
    if toleration.get("operator") == "Exists":
        return not toleration.get("key") or toleration["key"] == taint.get("key")
    return toleration.get("key") == taint.get("key") and (toleration.get("value") or "") == (taint.get("value") or "")


def untolerated_taints(pod_spec: Obj, node: Obj) -> List[Obj]:
    """The node's NoSchedule / NoExecute taints that the pod does not tolerate."""
    tolerations = pod_spec.get("tolerations") or []
    return [
        t for t in (node.get("spec") or {}).get("taints") or []
        if t.get("effect") in ("NoSchedule", "NoExecute") and not any(_tolerates(tol, t) for tol in tolerations)
    ]


def _taint_text(taint: Obj) -> str:
    value = "=%s" % taint["value"] if taint.get("value") else ""
    return "%s%s:%s" % (taint.get("key"), value, taint.get("effect"))


def _selector_text(pod_spec: Obj) -> str:
    parts = ["%s=%s" % item for item in sorted((pod_spec.get("nodeSelector") or {}).items())]
    required = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    for term in required.get("nodeSelectorTerms") or []:
        for expr in term.get("matchExpressions") or []:
            parts.append("%s %s %s" % (expr.get("key"), expr.get("operator"), ",".join(expr.get("values") or [])))
    return ", ".join(p.strip() for p in parts) or "none"


def _event_time(event: Obj) -> str:
    series = event.get("series") or {}
    return (series.get("lastObservedTime") or event.get("lastTimestamp") or event.get("eventTime")
            or (event.get("metadata") or {}).get("creationTimestamp") or "")


def _pod_events(events: List[Obj], pod: Obj) -> List[Obj]:
    metadata = pod.get("metadata") or {}
    uid, name = metadata.get("uid"), metadata.get("name")
    mine: List[Obj] = []
    for event in events:
        ref = event.get("involvedObject") or event.get("regarding") or {}
        if ref.get("kind") != "Pod" or ref.get("name") != name:
            continue
        if uid and ref.get("uid") and ref["uid"] != uid:
            continue
        mine.append(event)
    return sorted(mine, key=_event_time)


def _container_of(event: Obj) -> Optional[str]:
    field_path = (event.get("involvedObject") or {}).get("fieldPath") or ""
    match = re.search(r"\{(.+)\}", field_path)
    return match.group(1) if match else None


def _finding(cause: str, pod: Obj, message: str, **details: Any) -> Finding:
    return {"cause": cause, "pod": (pod.get("metadata") or {}).get("name"), "message": message, "details": details}


class _Fleet:
    """Nodes and the GPU requests already bound to them, read once per diagnosis and only when needed."""

    def __init__(self, client: K8sClient) -> None:
        self.client = client
        self._nodes: Optional[List[Obj]] = None
        self._entries: Dict[Optional[str], Obj] = {}

    def load(self) -> Tuple[List[Obj], Dict[Optional[str], Obj]]:
        if self._nodes is None:
            self._nodes = self.client.list("v1", "Node")
            pods = self.client.list("v1", "Pod", field_selector="status.phase!=Succeeded,status.phase!=Failed")
            inventory = build_inventory(self._nodes, pods, include_cpu_nodes=True)
            self._entries = {entry["name"]: entry for entry in inventory["nodes"]}
        return self._nodes, self._entries


def _placement(pod: Obj, nodes: List[Obj], entries: Dict[Optional[str], Obj]) -> Tuple[Dict[str, int], List[Dict[str, Any]]]:
    """For every node: does the GPU request fit its free resources, and what else keeps the pod off it."""
    spec = pod.get("spec") or {}
    requests = pod_gpu_requests(pod)
    rows: List[Dict[str, Any]] = []
    for node in nodes:
        name = (node.get("metadata") or {}).get("name")
        entry = entries.get(name) or {"resources": {}, "ready": False, "product": None}
        resources = entry["resources"]
        short = {
            res: {"requested": amount, "allocatable": resources.get(res, {}).get("allocatable", 0),
                  "free": resources.get(res, {}).get("free", 0)}
            for res, amount in requests.items() if resources.get(res, {}).get("free", 0) < amount
        }
        blocked_by: List[str] = []
        if not selector_matches(spec, node):
            blocked_by.append("node selector/affinity")
        taints = untolerated_taints(spec, node)
        if taints:
            blocked_by.append("taint " + ", ".join(_taint_text(t) for t in taints))
        rows.append({
            "node": name,
            "product": entry.get("product"),
            "ready": entry.get("ready", False),
            "selector_ok": selector_matches(spec, node),
            "taints": taints,
            "short": short,
            "blocked_by": blocked_by,
            "resources": {res: resources.get(res, {}) for res in requests},
        })
    return requests, rows


def _gpu_node_summary(rows: List[Dict[str, Any]], resource: str) -> str:
    """'gpu-h100-0 (NVIDIA-H100-80GB-HBM3: 8 allocatable, 8 free)'-style text of the nodes with the resource."""
    parts: List[str] = []
    for row in rows:
        res = row["resources"].get(resource) or {}
        if res.get("allocatable"):
            parts.append("%s (%s%s allocatable, %s free)" % (
                row["node"], "%s: " % row["product"] if row["product"] else "", res["allocatable"], res.get("free", 0)))
    return ", ".join(parts) or "none"


def _diagnose_unscheduled(pod: Obj, scheduler_message: Optional[str], fleet: _Fleet) -> Finding:
    name = (pod.get("metadata") or {}).get("name")
    spec = pod.get("spec") or {}
    parsed = parse_scheduler_message(scheduler_message) if scheduler_message else None
    try:
        nodes, entries = fleet.load()
        fleet_error = None
    except K8sError as exc:
        # e.g. no permission to list nodes or pods cluster-wide: the scheduler's message is all there is
        nodes, entries, fleet_error = [], {}, exc.msg
    requests, rows = _placement(pod, nodes, entries)
    candidates = [r for r in rows if r["ready"]]
    eligible = [r for r in candidates if not r["blocked_by"]]
    by_selector = [r for r in candidates if r["selector_ok"]]
    scheduler = {"message": scheduler_message, "reasons": (parsed or {}).get("reasons", {}),
                 "nodes_total": (parsed or {}).get("total"), "nodes_available": (parsed or {}).get("available")}
    fits_now = [r["node"] for r in eligible if not r["short"]]
    fits_if_allowed = [{"node": r["node"], "blocked_by": r["blocked_by"]} for r in candidates if r["blocked_by"] and not r["short"]]
    common = dict(scheduler=scheduler, requests=requests, fits_now=fits_now, fits_if_allowed=fits_if_allowed)
    if fleet_error:
        common["nodes_unreadable"] = fleet_error
    groups: Dict[str, List[str]] = {}
    for fit in fits_if_allowed:
        groups.setdefault(" and ".join(fit["blocked_by"]), []).append(fit["node"])
    allowed_text = "; it would fit on %s" % ", and on ".join(
        "%s if the %s allowed it" % (", ".join(sorted(names)), blocker) for blocker, names in sorted(groups.items(), key=lambda g: len(g[0]))
    ) if groups else ""

    if candidates and not by_selector:
        keys = sorted(set(spec.get("nodeSelector") or {}))
        present: Dict[str, Set[str]] = {}
        for node in nodes:
            labels = (node.get("metadata") or {}).get("labels") or {}
            for key in keys:
                if key in labels:
                    present.setdefault(key, set()).add(labels[key])
        values = "; ".join("%s is one of %s" % (k, ", ".join(sorted(v))) for k, v in sorted(present.items()))
        return _finding(
            "node_selector_mismatch", pod,
            "Pod %s selects nodes by %s, which no node matches%s%s: correct the node selector or affinity "
            "(e.g. nvidia.com/gpu.product to a product the cluster has) or label the nodes."
            % (name, _selector_text(spec), " (on the nodes %s)" % values if values else "", allowed_text),
            node_selector=spec.get("nodeSelector") or {}, label_values={k: sorted(v) for k, v in present.items()}, **common
        )
    if by_selector and not eligible:
        taints: Dict[str, List[str]] = {}
        for row in by_selector:
            for taint in row["taints"]:
                taints.setdefault(_taint_text(taint), []).append(row["node"])
        toleration = by_selector[0]["taints"][0] if by_selector[0]["taints"] else {}
        fix = "add the toleration {key: %s, operator: Exists, effect: %s}" % (toleration.get("key"), toleration.get("effect"))
        return _finding(
            "untolerated_taint", pod,
            "Pod %s may only run on %s, tainted with what it does not tolerate (%s): %s to the pod, or target "
            "untainted nodes." % (name, ", ".join(r["node"] for r in by_selector),
                                  "; ".join("%s on %s" % (t, ", ".join(n)) for t, n in sorted(taints.items())), fix),
            taints=dict(sorted(taints.items())), **common
        )
    gpu_short = sorted({res for row in eligible for res in row["short"]})
    if requests and eligible and not fits_now and gpu_short:
        resource = gpu_short[0]
        requested = requests[resource]
        largest = max((r["resources"].get(resource, {}).get("allocatable", 0) for r in rows), default=0)
        when_freed = [r["node"] for r in eligible if r["resources"].get(resource, {}).get("allocatable", 0) >= requested]
        if largest < requested:
            fix = ("no node has %s allocatable %s, so lower the request to at most %s per pod (split the model across "
                   "more replicas or use tensor parallelism within one node) or add larger nodes"
                   % (requested, resource, largest)) if largest else "add nodes that advertise %s" % resource
        elif when_freed:
            fix = "free %s on %s (delete or scale down the pods holding them) or add nodes" % (resource, ", ".join(when_freed))
        else:
            fix = "let the pod run on the nodes that have enough %s, or add nodes" % resource
        return _finding(
            "insufficient_gpu", pod,
            "Pod %s requests %s %s, more than any node it may run on has free (nodes with %s: %s)%s; %s."
            % (name, requested, resource, resource, _gpu_node_summary(rows, resource), allowed_text, fix),
            resource=resource, requested=requested, largest_allocatable=largest, fits_when_freed=when_freed,
            nodes=[dict(node=r["node"], product=r["product"], **r["resources"].get(resource, {}))
                   for r in rows if r["resources"].get(resource, {}).get("allocatable")],
            **common
        )
    # Our own count finds room, or the blocker is not a GPU: the scheduler's reasons decide.
    reasons = scheduler["reasons"]
    gpu_reasons = [r for r in reasons if r.startswith("Insufficient ") and classify(r.split(" ", 1)[1])]
    if gpu_reasons and not fits_now:
        resource = gpu_reasons[0].split(" ", 1)[1]
        return _finding(
            "insufficient_gpu", pod,
            "Pod %s cannot be scheduled: the scheduler reports %s; free %s or add nodes." % (name, scheduler_message, resource),
            resource=resource, requested=requests.get(resource), **common
        )
    if fleet_error:
        for needle, cause, fix in (
                ("node affinity/selector", "node_selector_mismatch", "correct the node selector or affinity, or label the nodes"),
                ("untolerated taint", "untolerated_taint", "add a toleration for the nodes' taint, or target untainted nodes")):
            if any(needle in reason for reason in reasons):
                return _finding(cause, pod, "Pod %s cannot be scheduled: the scheduler reports %s; %s." % (name, scheduler_message, fix),
                                **common)
    detail = scheduler_message or "the scheduler has not placed it yet"
    return _finding(
        "unschedulable", pod,
        "Pod %s is not scheduled: %s; fix what the scheduler names (CPU or memory requests, affinity, volumes, ports) "
        "or add capacity." % (name, detail),
        **common
    )


# Images named under localhost/ live on the node itself: nothing can pull them, they are imported.
LOCAL_IMAGE_PREFIX = "localhost/"
LOCAL_IMAGE_FIX = ("an image under localhost/ is not in any registry: build it and import it into the node's container runtime "
                   "(ctr -n k8s.io images import ARCHIVE); on this collection's local cluster `make images` builds the "
                   "real node's images and `tests/cluster/cluster.sh up` imports them")


def _image_pull_fix(text: Optional[str], image: Optional[str] = None) -> str:
    if (image or "").startswith(LOCAL_IMAGE_PREFIX):
        return LOCAL_IMAGE_FIX
    lowered = (text or "").lower()
    if "unauthorized" in lowered or "authentication required" in lowered or "denied" in lowered or "forbidden" in lowered:
        return "give the pod imagePullSecrets with credentials for the registry"
    if "not found" in lowered or "manifest unknown" in lowered or "invalidimagename" in lowered or "invalid reference" in lowered:
        return "correct the image name or tag (it does not exist in the registry)"
    if "no such host" in lowered or "dial tcp" in lowered or "timeout" in lowered or "connection refused" in lowered:
        return "make the registry reachable from the nodes (DNS, proxy, firewall) or mirror the image"
    return "check that the image name and tag exist and that the nodes can pull from the registry"


def _container_statuses(pod: Obj) -> List[Obj]:
    status = pod.get("status") or {}
    return list(status.get("initContainerStatuses") or []) + list(status.get("containerStatuses") or [])


def _diagnose_containers(client: K8sClient, namespace: str, pod: Obj, events: List[Obj]) -> Optional[Finding]:
    name: Any = (pod.get("metadata") or {}).get("name")  # a str: a pod the API returns has a name
    statuses = _container_statuses(pod)
    for cs in statuses:
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in IMAGE_PULL_REASONS:
            pull_events = [e for e in events if e.get("reason") in ("Failed", "BackOff", "InspectFailed", "ErrImageNeverPull")
                           and "image" in (e.get("message") or "").lower() and _container_of(e) in (None, cs.get("name"))]
            # "Failed to pull image ...: <registry's answer>" says why; "Back-off pulling image" only that it retries
            failures = [e for e in pull_events if (e.get("message") or "").startswith("Failed to pull image")]
            chosen = failures or pull_events
            evidence = (chosen[-1].get("message") if chosen else None) or waiting.get("message") or waiting["reason"]
            fix = _image_pull_fix(" ".join([evidence, waiting.get("message") or "", waiting["reason"]]), cs.get("image"))
            return _finding(
                "image_pull", pod,
                "Container %s of pod %s cannot pull its image %s (%s: %s); %s."
                % (cs.get("name"), name, cs.get("image"), waiting["reason"], evidence, fix),
                container=cs.get("name"), image=cs.get("image"), reason=waiting["reason"],
                events=[e.get("message") for e in pull_events[-3:]],
            )
    for cs in statuses:
        state = cs.get("state") or {}
        waiting = state.get("waiting") or {}
        last = (cs.get("lastState") or {}).get("terminated") or {}
        terminated = state.get("terminated") or {}
        restarts = cs.get("restartCount") or 0
        crashing = waiting.get("reason") == "CrashLoopBackOff" or (
            not cs.get("ready") and (terminated.get("exitCode") or (restarts and last.get("exitCode")))
        )
        if not crashing:
            continue
        container = cs.get("name")
        # A startup probe fails while the server is still loading: that is no cause unless the kubelet
        # killed the container for it. A process that exits by itself crashed (seen on the real node:
        # Triton failing to load a model exits with 1 while its startup probe is still refused).
        killed = {m.group("probe").capitalize() for m in (_PROBE_KILL.search(e.get("message") or "") for e in events
                                                          if e.get("reason") == "Killing" and _container_of(e) in (None, container)) if m}
        probes = [e for e in _probe_events(events, container, kinds=("Liveness", "Startup"))
                  if _PROBE_EVENT.match(e["message"]).group("probe").capitalize() in killed]  # type: ignore[union-attr]
        if probes:
            return _probe_finding(pod, container, probes, restarts)
        ended = last or terminated
        previous = restarts > 0
        try:
            lines = client.read_log(namespace, name, container, previous=previous, tail_lines=LOG_TAIL_LINES,
                                    timeout=LOG_TIMEOUT)
            logs_error = None
        except K8sError as exc:
            lines, logs_error = [], exc.msg
        if logs_error and previous:
            # The kubelet keeps one dead instance: when the next one has just exited, the instance the pod's
            # status still names is gone ("unable to retrieve container logs", seen on the real node), and the
            # newest log is the one that tells.
            try:
                lines = client.read_log(namespace, name, container, previous=False, tail_lines=LOG_TAIL_LINES,
                                        timeout=LOG_TIMEOUT)
                logs_error, previous = None, False
            except K8sError:
                pass
        which = "previous" if previous else "current"
        if logs_error:
            log_text = "the logs of its %s instance are unavailable (%s)" % (which, logs_error)
        elif lines:
            # The first line that says what is missing is the cause; servers often end with a summary of it.
            telling = next((line for line in lines if _MISSING_MODEL.search(line)), None)
            if telling and telling.strip() != lines[-1].strip():
                log_text = "its %s instance logged: %s; and last: %s" % (which, telling.strip(), lines[-1].strip())
            else:
                log_text = "its %s instance last logged: %s" % (which, lines[-1].strip())
        else:
            log_text = "its %s instance logged nothing" % which
        reason = ended.get("reason") or waiting.get("reason") or "Error"
        if reason == "OOMKilled":
            fix = "raise the container's memory limit to what the model needs"
        elif any(_MISSING_MODEL.search(line) for line in lines) or _MISSING_MODEL.search(ended.get("message") or ""):
            fix = "the model is not where the server looks for it: check the volume or storage URI and the model path"
        else:
            fix = "fix the error its log shows (kubectl logs --previous %s -c %s)" % (name, container)
        return _finding(
            "crash_loop", pod,
            "Container %s of pod %s keeps crashing (%s, exit code %s, %s restarts); %s; %s."
            % (container, name, reason, ended.get("exitCode"), restarts, log_text, fix),
            container=container, restarts=restarts, reason=reason, exit_code=ended.get("exitCode"),
            termination_message=ended.get("message"), log_lines=lines, logs_previous=previous, logs_error=logs_error,
        )
    for cs in statuses:
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in ("CreateContainerConfigError", "CreateContainerError", "RunContainerError"):
            return _finding(
                "pending_other", pod,
                "Container %s of pod %s cannot start (%s: %s); create the ConfigMap, Secret or volume it names, or fix "
                "the container's command." % (cs.get("name"), name, waiting["reason"], waiting.get("message") or "no message"),
                container=cs.get("name"), reason=waiting["reason"],
            )
    for cs in statuses:
        running = (cs.get("state") or {}).get("running")
        if running is not None and not cs.get("ready"):
            probes = _probe_events(events, cs.get("name"))
            if probes:
                return _probe_finding(pod, cs.get("name"), probes, cs.get("restartCount") or 0)
    return None


def _probe_events(events: List[Obj], container: Optional[str], kinds: Sequence[str] = ("Readiness", "Liveness", "Startup")) -> List[Obj]:
    found: List[Obj] = []
    for event in events:
        match = _PROBE_EVENT.match(event.get("message") or "")
        if event.get("reason") == "Unhealthy" and match and match.group("probe").capitalize() in kinds \
                and _container_of(event) in (None, container):
            found.append(event)
    return found


def _probe_finding(pod: Obj, container: Optional[str], probes: List[Obj], restarts: int) -> Finding:
    name = (pod.get("metadata") or {}).get("name")
    last = probes[-1]
    kind = _PROBE_EVENT.match(last["message"]).group("probe").capitalize()  # type: ignore[union-attr]  # _probe_events matched it
    count = sum((e.get("count") or (e.get("series") or {}).get("count") or 1) for e in probes)
    if kind == "Startup":
        fix = ("give the model time to load: raise the startup probe's failureThreshold x periodSeconds, "
               "or check its path and port")
    elif kind == "Liveness":
        fix = "check the liveness probe's path and port, and that a startup probe covers model loading"
    else:
        fix = "check that the readiness probe's path and port are the server's health endpoint and that the model loaded"
    return _finding(
        "probe_failure", pod,
        "Container %s of pod %s fails its %s probe (%s, seen %s times%s); %s."
        % (container, name, kind.lower(), last["message"], count, ", %s restarts" % restarts if restarts else "", fix),
        container=container, probe=kind.lower(), last_message=last["message"], failures=count, restarts=restarts,
    )


def diagnose_pod(client: K8sClient, namespace: str, pod: Obj, events: List[Obj], fleet: _Fleet) -> Optional[Finding]:
    """The finding for one pod that is not ready, or None when it is ready (or going away)."""
    metadata = pod.get("metadata") or {}
    if metadata.get("deletionTimestamp") or pod_ready(pod):
        return None
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    name = metadata.get("name")
    mine = _pod_events(events, pod)
    if not spec.get("nodeName"):
        if spec.get("schedulingGates"):
            gates = ", ".join(g.get("name", "?") for g in spec["schedulingGates"])
            return _finding("pending_other", pod, "Pod %s waits on scheduling gates %s; the controller that set them must "
                            "remove them." % (name, gates), scheduling_gates=gates)
        scheduled = condition(pod, "PodScheduled") or {}
        failed = [e for e in mine if e.get("reason") == "FailedScheduling"]
        message = (failed[-1].get("message") if failed else None) or scheduled.get("message")
        if scheduled.get("status") == "False" or failed:
            return _diagnose_unscheduled(pod, message, fleet)
        return _finding("pending_other", pod, "Pod %s has not been scheduled yet; if it stays so, check that the "
                        "scheduler is running (schedulerName %s)." % (name, spec.get("schedulerName") or "default-scheduler"))
    found = _diagnose_containers(client, namespace, pod, mine)
    if found:
        return found
    warnings = [e for e in mine if e.get("type") == "Warning"]
    waiting = [
        "%s: %s" % (cs.get("name"), ((cs.get("state") or {}).get("waiting") or {}).get("reason"))
        for cs in _container_statuses(pod) if (cs.get("state") or {}).get("waiting")
    ]
    evidence = "; ".join(filter(None, [
        "phase %s" % status.get("phase"),
        "waiting %s" % ", ".join(waiting) if waiting else None,
        "last warning: %s %s" % (warnings[-1].get("reason"), warnings[-1].get("message")) if warnings else None,
    ]))
    return _finding(
        "pending_other", pod,
        "Pod %s on node %s is not ready (%s); it may still be starting: look at its events and container states."
        % (name, spec.get("nodeName"), evidence),
        phase=status.get("phase"), node=spec.get("nodeName"), warnings=[e.get("message") for e in warnings[-3:]],
    )


def diagnose_workload(client: K8sClient, namespace: str, selector: Union[None, str, Dict[str, Any]]) -> List[Finding]:
    """Findings for each pod in namespace matching selector that is not ready. [] when all are ready.

    selector: a label selector string, a {label: value} dict, or a LabelSelector ({matchLabels, matchExpressions}).
    A finding: {"cause", "pod", "message", "details"}; cause is one of CAUSES.
    """
    text = label_selector(selector)
    pods = client.list("v1", "Pod", namespace, label_selector=text or None)
    if not pods:
        return [{
            "cause": "pending_other", "pod": None,
            "message": "No pod in namespace %s matches %s; check the controller's events (FailedCreate: quota, admission, "
                       "missing service account) and that the selector is right." % (namespace, text or "the empty selector"),
            "details": {"selector": text},
        }]
    unready = [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp") and not pod_ready(p)]
    if not unready:
        return []
    try:
        events = client.list("v1", "Event", namespace, field_selector="involvedObject.kind=Pod")
    except K8sError:
        events = []  # no permission to read events: pod statuses alone still name most causes
    fleet = _Fleet(client)
    findings: List[Finding] = []
    for pod in sorted(unready, key=lambda p: (p.get("metadata") or {}).get("name") or ""):
        finding = diagnose_pod(client, namespace, pod, events, fleet)
        if finding:
            findings.append(finding)
    return findings


def revision(obj: Obj) -> int:
    """The rollout revision a Deployment or ReplicaSet carries (0 when none)."""
    try:
        return int(((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION) or 0)
    except ValueError:
        return 0


def owned_replicasets(client: K8sClient, dep: Obj) -> List[Obj]:
    """The ReplicaSets a Deployment controls."""
    metadata = dep.get("metadata") or {}
    selector = label_selector((dep.get("spec") or {}).get("selector") or {})
    replicasets = client.list("apps/v1", "ReplicaSet", metadata.get("namespace"), label_selector=selector or None)
    return [
        rs for rs in replicasets
        if any(ref.get("uid") == metadata.get("uid") and ref.get("controller") for ref in (rs.get("metadata") or {}).get("ownerReferences") or [])
    ]


def _new_pods_selector(client: K8sClient, dep: Obj) -> str:
    """The Deployment's selector narrowed to the pods of its current revision (old, healthy pods are no evidence)."""
    selector = label_selector((dep.get("spec") or {}).get("selector") or {})
    current = revision(dep)
    for rs in owned_replicasets(client, dep):
        template_hash = ((rs.get("metadata") or {}).get("labels") or {}).get(TEMPLATE_HASH)
        if current and revision(rs) == current and template_hash:
            return "%s,%s=%s" % (selector, TEMPLATE_HASH, template_hash) if selector else "%s=%s" % (TEMPLATE_HASH, template_hash)
    return selector


def pods_selector(client: K8sClient, kind: str, live: Obj) -> str:
    """The label selector of the pods that decide whether a workload of that kind is ready."""
    if kind == "Deployment":
        return _new_pods_selector(client, live)
    if kind == "InferenceService":
        return "%s=%s" % (KSERVE_POD_LABEL, (live.get("metadata") or {}).get("name"))
    return label_selector((live.get("spec") or {}).get("selector") or {})


def object_ref(kind: str, namespace: Optional[str], name: str) -> str:
    return "%s %s/%s" % (kind, namespace, name) if namespace else "%s %s" % (kind, name)


def controller_warnings(client: K8sClient, kind: str, namespace: Optional[str], name: str) -> Dict[Optional[str], Any]:
    """The latest message of each Warning reason about the object itself (a controller saying why it made no pod)."""
    try:
        events = client.list("v1", "Event", namespace,
                             field_selector="involvedObject.kind=%s,involvedObject.name=%s" % (kind, name))
    except K8sError:
        return {}
    latest: Dict[Optional[str], Any] = {}
    for event in sorted((e for e in events if e.get("type") == "Warning"), key=_event_time):
        latest[event.get("reason")] = event.get("message")
    return latest


def diagnose_unready(client: K8sClient, states: List[Dict[str, Any]]) -> List[Finding]:
    """Findings for each state of waiter.wait_until_ready that is not ready, each with "object" set.

    The pods of the workload come first; where no pod is to blame, the object's own status is the evidence,
    with the latest warnings its controller recorded (a quota or Pod Security refusing its pods).
    """
    findings: List[Finding] = []
    for state in states:
        if state["ready"]:
            continue
        kind, name, namespace, live = state["kind"], state["name"], state["namespace"], state["live"]
        ref = object_ref(kind, namespace, name)
        found, selector = [], None
        if live is not None and kind != "CustomResourceDefinition":
            selector = pods_selector(client, kind, live)
            found = diagnose_workload(client, namespace, selector)
        mine = [f for f in found if f["pod"]]
        if not mine:
            no_pods = "; no pod matches %s" % selector if found else ""
            warnings = controller_warnings(client, kind, namespace, name) if live is not None else {}
            events = "".join("; event %s: %s" % item for item in warnings.items())
            mine = [{"cause": "pending_other", "pod": None, "details": {"selector": selector, "events": warnings},
                     "message": "%s is not ready: %s%s%s." % (ref, state["reason"], no_pods, events)}]
        for finding in mine:
            finding["object"] = ref
        findings.extend(mine)
    return findings
