# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of user input against what the Kubernetes API accepts, shared by the builders.

Each check raises InputError (common/errors.py) whose message is "<option path>: <problem>. <fix>", so a
module fails naming the option before it builds or sends anything.
"""

from __future__ import annotations

import re
from typing import Any, Dict, NoReturn, Optional

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.errors import InputError

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")

# Prometheus durations as prometheus-operator's CRDs accept them, for example 30s, 1m, 1m30s
DURATION = re.compile(r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$")
# seconds in each unit of DURATION, in its order (y, w, d, h, m, s, ms)
_DURATION_SCALES = (365 * 86400.0, 7 * 86400.0, 86400.0, 3600.0, 60.0, 1.0, 0.001)

TOLERATION_FIELDS = ("key", "operator", "value", "effect", "tolerationSeconds")
TOLERATION_OPERATORS = ("Exists", "Equal")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def fail(path: str, problem: str, fix: str) -> NoReturn:
    raise InputError("%s: %s. %s" % (path, problem, fix))


def valid_duration(path: str, value: Any, example: str = "30s or 1m") -> float:
    """A Prometheus duration above zero, in seconds; refused otherwise."""
    match = DURATION.match(value) if isinstance(value, str) and value not in ("", "0") else None
    if not match:
        fail(path, "%r is not a Prometheus duration" % (value,), "For example %s." % example)
    # the pattern's groups 3, 5, ... hold the number of each unit, in _DURATION_SCALES' order
    return sum(float(match.group(3 + 2 * i)) * scale for i, scale in enumerate(_DURATION_SCALES) if match.group(3 + 2 * i))


def with_defaults(given: Dict[str, Any], defaults: Dict[str, Any], what: str) -> Dict[str, Any]:
    """``defaults`` overlaid with the options of ``given`` that are set (not None); an option
    ``defaults`` does not know is refused, naming ``what`` the options belong to."""
    merged = dict(defaults)
    merged.update({key: value for key, value in given.items() if value is not None})
    unknown = sorted(set(merged) - set(defaults))
    if unknown:
        raise InputError("Unknown %s option(s): %s." % (what, ", ".join(unknown)))
    return merged


def valid_image(path: str, image: Any, example: str) -> str:
    """An image reference with a pinned tag or a digest. `latest` and no tag are refused: they move, so
    pods of one workload end up running different versions."""
    if not isinstance(image, str) or not image.strip() or image != image.strip() or " " in image:
        fail(path, "%r is not an image reference" % (image,), "Give REGISTRY/REPOSITORY:TAG, for example %s." % example)
    name, _at, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.rpartition(":")[2] if ":" in last else None
    if tag == "latest":
        fail(path, "%s uses the tag latest, which moves: pods started at different times run different versions" % image,
             "Pin a release, for example %s." % example)
    if not tag and not digest:
        fail(path, "%s has no tag, so the node pulls latest" % image, "Pin a release, for example %s." % example)
    return image


def qualified_name_problem(name: str) -> Optional[str]:
    """Why name is not a valid label (or taint) key, or None: [prefix/]name as the API checks it."""
    prefix, _sep, local = name.rpartition("/")
    if prefix and (len(prefix) > 253 or not DNS_SUBDOMAIN.match(prefix)):
        return "the prefix %r is not a DNS subdomain" % prefix
    if not local or len(local) > 63 or not LABEL_NAME.match(local):
        return "%r is not a valid name (at most 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric)" % local
    return None


def valid_label_value(path: str, value: Any, integers: bool = False) -> str:
    """A label-like value as the API wants it: a string. YAML's true is refused, not converted; so is 1,
    unless integers=True (a count such as nvidia.com/gpu.count: 8), which makes it "8"."""
    if integers and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        fail(path, "label values are strings, got %s %r" % (type(value).__name__, value),
             "Quote it in YAML, for example '%s'." % (str(value).lower() if isinstance(value, bool) else value))
    if len(value) > 63 or not LABEL_VALUE.match(value):
        fail(path, "%r is not a valid label value" % value,
             "Use at most 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric.")
    return value


def valid_toleration(index: int, value: Any) -> Dict[str, Any]:
    """tolerations[index] checked as the API checks it; returns it with the default operator Equal filled in."""
    path = "tolerations[%d]" % index
    if not isinstance(value, dict):
        fail(path, "expected a mapping, got %s" % type(value).__name__, "Give key, operator, value and effect as in a pod spec.")
    unknown = sorted(set(value) - set(TOLERATION_FIELDS))
    if unknown:
        fail(path, "unknown field(s) %s" % ", ".join(unknown), "Use the pod spec's names: %s." % ", ".join(TOLERATION_FIELDS))
    checked = {k: v for k, v in value.items() if v is not None}
    operator = checked.setdefault("operator", "Equal")
    if operator not in TOLERATION_OPERATORS:
        fail(path + ".operator", "%r is not an operator" % (operator,), "Use Exists or Equal.")
    key = checked.get("key", "")
    if not isinstance(key, str):
        fail(path + ".key", "expected a string, got %r" % (key,), "Quote it in YAML.")
    if key:
        problem = qualified_name_problem(key)
        if problem:
            fail(path + ".key", problem, "Use the taint's key, for example nvidia.com/gpu.")
    elif operator != "Exists":
        fail(path + ".key", "an empty key tolerates every taint and needs operator Exists", "Set a key, or operator: Exists.")
    if "value" in checked:
        valid_label_value(path + ".value", checked["value"])
        if operator == "Exists" and checked["value"]:
            fail(path + ".value", "operator Exists matches any value and takes none", "Remove value, or use operator: Equal.")
    effect = checked.get("effect")
    if effect is not None and effect not in TAINT_EFFECTS:
        fail(path + ".effect", "%r is not a taint effect" % (effect,), "Use %s, or leave it out for all." % ", ".join(TAINT_EFFECTS))
    if "tolerationSeconds" in checked:
        seconds = checked["tolerationSeconds"]
        if isinstance(seconds, bool) or not isinstance(seconds, int):
            fail(path + ".tolerationSeconds", "expected whole seconds, got %r" % (seconds,), "For example 300.")
        if effect != "NoExecute":
            fail(path + ".tolerationSeconds", "applies only to effect NoExecute", "Set effect: NoExecute, or remove tolerationSeconds.")
    return checked


def valid_labels(path: str, value: Any, example: str = "{node.kubernetes.io/instance-type: p5.48xlarge}") -> Dict[str, str]:
    """A mapping of label keys to string values (a nodeSelector, labels a selector matches), checked as the API
    checks them."""
    if not isinstance(value, dict):
        fail(path, "expected a mapping of label to value, got %s" % type(value).__name__, "For example %s." % example)
    labels = {}
    for key, label_value in value.items():
        problem = qualified_name_problem(key) if isinstance(key, str) else "expected a string"
        if problem:
            fail("%s.%s" % (path, key), problem, "Use a label key, for example nvidia.com/gpu.product.")
        labels[key] = valid_label_value("%s.%s" % (path, key), label_value)
    return labels
