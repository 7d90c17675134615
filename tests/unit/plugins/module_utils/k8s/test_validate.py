"""The shared input checks: what the API accepts, and messages that name the option and the fix."""

from __future__ import annotations

import pytest

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.errors import InputError
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.validate import (
    qualified_name_problem,
    valid_label_value,
    valid_toleration,
    with_defaults,
)


def test_with_defaults_fills_unset_options_and_names_unknown_ones():
    assert with_defaults({"a": None, "b": 3}, {"a": 1, "b": 2}, "widget") == {"a": 1, "b": 3}
    with pytest.raises(InputError, match=r"^Unknown widget option\(s\): c, d\.$"):
        with_defaults({"d": 1, "c": "x", "a": 2}, {"a": 1}, "widget")


@pytest.mark.parametrize("name, problem", [
    ("nvidia.com/gpu.product", None),
    ("gpu", None),
    ("a" * 63, None),
    ("a" * 64, "is not a valid name"),
    ("Nvidia.com/gpu", "the prefix 'Nvidia.com' is not a DNS subdomain"),
    ("nvidia.com/", "'' is not a valid name"),
    ("nvidia.com/-gpu", "'-gpu' is not a valid name"),
])
def test_qualified_names(name, problem):
    found = qualified_name_problem(name)
    assert (found is None) if problem is None else (problem in found)


def test_label_values_are_strings_and_yaml_booleans_are_refused_not_converted():
    assert valid_label_value("node_selector.x", "NVIDIA-H100-80GB-HBM3") == "NVIDIA-H100-80GB-HBM3"
    assert valid_label_value("x", "") == ""
    with pytest.raises(InputError, match=r"^node_selector\.x: label values are strings, got bool True\. Quote it in YAML, for example 'true'\.$"):
        valid_label_value("node_selector.x", True)
    with pytest.raises(InputError, match=r"'a b' is not a valid label value"):
        valid_label_value("x", "a b")


def test_tolerations_default_to_equal_and_are_checked_field_by_field():
    assert valid_toleration(0, {"key": "nvidia.com/gpu", "value": "present", "effect": None}) == {
        "key": "nvidia.com/gpu", "value": "present", "operator": "Equal"}
    assert valid_toleration(1, {"operator": "Exists"}) == {"operator": "Exists"}
    for index, value, message in [
        (2, {"key": "k", "operator": "In"}, r"^tolerations\[2\]\.operator: 'In' is not an operator"),
        (0, {"operator": "Equal"}, r"^tolerations\[0\]\.key: an empty key tolerates every taint"),
        (0, {"key": "k", "operator": "Exists", "value": "v"}, r"^tolerations\[0\]\.value: operator Exists matches any value"),
        (0, {"key": "k", "effect": "NoRun"}, r"^tolerations\[0\]\.effect: 'NoRun' is not a taint effect"),
        (0, {"key": "k", "effect": "NoSchedule", "tolerationSeconds": 30}, r"tolerationSeconds: applies only to effect NoExecute"),
        (0, {"key": "k", "seconds": 30}, r"^tolerations\[0\]: unknown field\(s\) seconds"),
    ]:
        with pytest.raises(InputError, match=message):
            valid_toleration(index, value)
