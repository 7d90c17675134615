"""Every option is written once in a module's argument spec; where it is written again, these tests keep it equal.

- A module's DOCUMENTATION (with its doc fragments) against the argument_spec it gives AnsibleModule.
  (ansible-test sanity's validate-modules judges this too; this is the fast check.)
- The validators that also take plain dicts (stack/spec.py, device_plugin/manifests.py) against the
  module's argument spec: a plain dict and the same dict filled in by the argument spec, as a module's
  params are, must give the same spec. That covers the nested defaults they apply themselves.
- A role's meta/argument_specs.yml against the module options its tasks pass role variables to by
  name (<role>_<option>), and, for the roles that wrap a whole module, that every option is passed.
- A role's defaults/main.yml against its meta/argument_specs.yml.

Each comparison is a function returning the differences; a test beside it breaks a copy and shows the
comparison finds it.
"""

from __future__ import annotations

import copy
import importlib
import re
from pathlib import Path
from unittest import mock

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.inferops.kubernetes.plugins.module_utils.device_plugin import manifests as device_plugin_builder
from ansible_collections.inferops.kubernetes.plugins.module_utils.device_plugin import options as device_plugin_options
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.client import AUTH_ARG_SPEC
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack import options as stack_options
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack import spec as stack_spec

ROOT = Path(__file__).resolve().parents[2]
COLLECTION = "ansible_collections.inferops.kubernetes"
MODULES = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py") if p.stem != "__init__")
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "meta" / "argument_specs.yml").exists())

# Roles that expose every option of one module (cluster access aside, which comes from module_defaults).
WRAPPERS = {"serving_runtime": "inference_stack", "device_plugin": "device_plugin", "access": "inference_access",
            "ingress_tls": "inference_ingress", "autoscaling": "inference_autoscaling", "monitoring": "inference_monitoring"}

# Role defaults that differ from the module's on purpose: (role variable) -> why.
DEFAULT_EXCEPTIONS = {
    "serving_runtime_wait": "the role applies and then reports the rollout, so it waits by default; the module "
                            "leaves waiting to its caller",
}

_EMPTY = (None, "", {}, [])


# --- reading the sources -------------------------------------------------------------------------------------

class _Captured(Exception):
    pass


def module_argument_spec(name):
    """The argument_spec the module's main() hands to AnsibleModule (nothing else of main runs)."""
    module = importlib.import_module("%s.plugins.modules.%s" % (COLLECTION, name))
    captured = {}

    def fake(argument_spec, **_kwargs):
        captured.update(argument_spec)
        raise _Captured()

    with mock.patch.object(module, "AnsibleModule", fake), pytest.raises(_Captured):
        module.main()
    return captured


def _fragment_options(fragment):
    """Options of a doc fragment named inferops.kubernetes.NAME[.BLOCK]."""
    parts = fragment.split(".")
    assert parts[:2] == ["inferops", "kubernetes"], "a fragment of another collection: %s" % fragment
    source = importlib.import_module("%s.plugins.doc_fragments.%s" % (COLLECTION, parts[2])).ModuleDocFragment
    block = getattr(source, parts[3] if len(parts) > 3 else "DOCUMENTATION")
    return yaml.safe_load(block).get("options") or {}


def documented_options(name):
    """The module's documented options with its fragments merged in as ansible-doc does (the module's keys win)."""
    module = importlib.import_module("%s.plugins.modules.%s" % (COLLECTION, name))
    doc = yaml.safe_load(module.DOCUMENTATION)
    options = copy.deepcopy(doc.get("options") or {})
    for fragment in doc.get("extends_documentation_fragment") or []:
        for option, entry in _fragment_options(fragment).items():
            options[option] = dict(entry, **options.get(option, {}))
    return options


def role_argument_spec(role):
    return yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]


def role_defaults(role):
    path = ROOT / "roles" / role / "defaults" / "main.yml"
    return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}


def _tasks(items):
    for task in items or []:
        yield task
        for key in ("block", "rescue", "always"):
            yield from _tasks(task.get(key))


def role_module_calls(role):
    """(module, option, role variable, omitted when empty) for each module option a task of the role sets
    from one of its own variables, "{{ <variable> ... }}"."""
    calls = []
    for path in sorted((ROOT / "roles" / role / "tasks").glob("*.yml")):
        for task in _tasks(yaml.safe_load(path.read_text())):
            for key, args in task.items():
                if not key.startswith("inferops.kubernetes.") or not isinstance(args, dict):
                    continue
                for option, value in args.items():
                    match = re.match(r"^\{\{\s*(%s_\w+)" % role, value) if isinstance(value, str) else None
                    if match:
                        omitted = bool(re.search(r"\belse\s+omit\b|default\(\s*omit", value))
                        calls.append((key.split(".")[-1], option, match.group(1), omitted))
    return calls


# --- comparisons (each returns a list of differences) ------------------------------------------------------------

def _type(entry):
    return entry.get("type", "str")


def compare_doc_to_spec(doc, spec, path=""):
    """validate-modules' comparison, in short: names, type, default, choices, elements, required, aliases."""
    problems = []
    for name in sorted(set(doc) | set(spec)):
        where = path + name
        if name not in spec:
            problems.append("%s: documented but not in the argument spec" % where)
            continue
        if name not in doc:
            problems.append("%s: in the argument spec but not documented" % where)
            continue
        d, s = doc[name], spec[name]
        for key, d_value, s_value in (
            ("type", _type(d), _type(s)),
            ("default", d.get("default"), s.get("default")),
            ("choices", d.get("choices"), s.get("choices")),
            ("elements", d.get("elements"), s.get("elements")),
            ("required", bool(d.get("required")), bool(s.get("required"))),
            ("aliases", sorted(d.get("aliases") or []), sorted(s.get("aliases") or [])),
        ):
            if d_value != s_value:
                problems.append("%s: %s is %r in DOCUMENTATION, %r in the argument spec" % (where, key, d_value, s_value))
        if d.get("suboptions") or s.get("options"):
            problems.extend(compare_doc_to_spec(d.get("suboptions") or {}, s.get("options") or {}, where + "."))
    return problems


def compare_role_option(role_entry, module_entry, where, omitted=False, required_in_module=False):
    """A role option against the module option it is passed to: type, choices, elements, default, suboptions.

    `required` is not compared: a role checks its required variables in its preflight, in the role's own
    variable names, and its defaults hold an empty placeholder. A variable the task leaves out when empty
    (`... else omit`) has an empty default that stands for the module's default.
    """
    problems = []
    for key, r_value, m_value in (
        ("type", _type(role_entry), _type(module_entry)),
        ("choices", sorted(role_entry.get("choices") or []), sorted(module_entry.get("choices") or [])),
        ("elements", role_entry.get("elements"), module_entry.get("elements")),
    ):
        if r_value != m_value:
            problems.append("%s: %s is %r in the role, %r in the module" % (where, key, r_value, m_value))
    role_default, module_default = role_entry.get("default"), module_entry.get("default")
    if omitted or required_in_module:
        if role_default not in _EMPTY:
            problems.append("%s: the role's default %r should be empty: %s" % (
                where, role_default, "the task leaves it out when empty, so the module's default applies" if omitted
                else "the module requires it, so the role's default is only a placeholder its preflight refuses"))
    elif role_default != module_default and where not in DEFAULT_EXCEPTIONS:
        problems.append("%s: default is %r in the role, %r in the module" % (where, role_default, module_default))
    role_sub, module_sub = role_entry.get("options") or {}, module_entry.get("options") or {}
    for name in sorted(set(role_sub) | set(module_sub)):
        if name not in role_sub or name not in module_sub:
            problems.append("%s.%s: only in the %s" % (where, name, "module" if name in module_sub else "role"))
            continue
        problems.extend(compare_role_option(role_sub[name], module_sub[name], "%s.%s" % (where, name),
                                            required_in_module=bool(module_sub[name].get("required"))))
    return problems


def compare_role_to_modules(role, role_spec, module_specs):
    problems = []
    for module, option, variable, omitted in role_module_calls(role):
        if variable != "%s_%s" % (role, option):
            continue  # a role variable under another name (mig_drain_timeout as timeout): its own option
        if variable not in role_spec:
            problems.append("%s: passed to %s but not in meta/argument_specs.yml" % (variable, module))
            continue
        module_entry = module_specs[module][option]
        problems.extend(compare_role_option(role_spec[variable], module_entry, variable, omitted,
                                            required_in_module=bool(module_entry.get("required"))))
    return problems


def compare_defaults_to_argument_spec(defaults, role_spec):
    """defaults/main.yml and meta/argument_specs.yml: the same variables with the same default values.

    An option without a default in the spec may sit in defaults/main.yml as null, or as an empty
    placeholder when it is required (the preflight refuses the placeholder).
    """
    problems = []
    for name in sorted(set(defaults) - set(role_spec)):
        problems.append("%s: in defaults/main.yml but not in meta/argument_specs.yml" % name)
    for name, entry in sorted(role_spec.items()):
        if "default" in entry:
            if name not in defaults:
                problems.append("%s: argument_specs gives default %r, defaults/main.yml does not set it" % (name, entry["default"]))
            elif defaults[name] != entry["default"]:
                problems.append("%s: default is %r in defaults/main.yml, %r in argument_specs" % (name, defaults[name], entry["default"]))
        elif name in defaults and defaults[name] is not None and not (entry.get("required") and defaults[name] in _EMPTY):
            problems.append("%s: defaults/main.yml sets %r, argument_specs gives no default" % (name, defaults[name]))
    return problems


def filled(argument_spec, params):
    """params as AnsibleModule would hand them over: every option present, defaults (nested too) filled in."""
    result = ArgumentSpecValidator(argument_spec).validate(copy.deepcopy(params))
    assert not result.error_messages, result.error_messages
    return result.validated_parameters


# --- the tests ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", MODULES)
def test_documentation_matches_argument_spec(name):
    assert compare_doc_to_spec(documented_options(name), module_argument_spec(name)) == []


def test_doc_comparison_finds_a_difference():
    spec = module_argument_spec("device_plugin")
    doc = documented_options("device_plugin")
    assert compare_doc_to_spec(doc, spec) == []
    broken = copy.deepcopy(doc)
    broken["wait_timeout"]["default"] = 600
    del broken["time_slicing"]["suboptions"]["resources"]["elements"]
    broken["mig_strategy"]["choices"].remove("mixed")
    assert compare_doc_to_spec(broken, spec) == [
        "mig_strategy: choices is ['none', 'single'] in DOCUMENTATION, ['none', 'single', 'mixed'] in the argument spec",
        "time_slicing.resources: elements is None in DOCUMENTATION, 'str' in the argument spec",
        "wait_timeout: default is 600 in DOCUMENTATION, 300 in the argument spec",
    ]


def test_modules_take_their_argument_spec_from_module_utils():
    assert module_argument_spec("inference_stack") == dict(AUTH_ARG_SPEC, **stack_options.ARGUMENT_SPEC)
    assert module_argument_spec("device_plugin") == dict(AUTH_ARG_SPEC, **device_plugin_options.ARGUMENT_SPEC)


def test_validators_know_the_argument_spec_options():
    assert set(stack_spec.DEFAULTS) == set(stack_options.STACK_OPTIONS)
    assert set(device_plugin_builder.DEFAULTS) == set(device_plugin_options.PLUGIN_OPTIONS)
    for option, names in (("model", stack_spec.MODEL_OPTIONS), ("gpu", stack_spec.GPU_OPTIONS),
                          ("warmup", stack_spec.WARMUP_OPTIONS), ("kserve", stack_spec.KSERVE_OPTIONS)):
        assert set(names) == set(stack_options.STACK_OPTIONS[option]["options"]), option
    assert set(stack_spec.SPREAD_CHOICES) == set(stack_options.STACK_OPTIONS["spread"]["choices"])
    assert set(stack_spec.VERSION_POLICIES) == set(stack_options.STACK_OPTIONS["model"]["options"]["version_policy"]["choices"])


# Inputs that leave out every option with a default, at the top and inside each suboption with defaults.
STACK_INPUTS = [
    {"name": "tfs", "runtime": "tensorflow_serving", "model": {"name": "m", "pvc": "models", "path": "m"},
     "gpu": {"product": "NVIDIA-H100-80GB-HBM3"}, "warmup": {"body": {"instances": [[1.0]]}}},
    {"name": "trt", "runtime": "triton", "model": {"name": "m", "pvc": "models", "backend": "onnxruntime"},
     "gpu": {"mig_profile": "1g.10gb"}, "warmup": {"inputs": [{"name": "x", "data_type": "TYPE_FP32", "dims": [4]}]}},
    {"name": "ts", "runtime": "torchserve", "model": {"name": "m", "pvc": "models"}, "warmup": {"body": "{}"}},
    {"name": "ks", "runtime": "kserve", "model": {"name": "m", "format": "sklearn", "storage_uri": "gs://b/m"}, "kserve": {}},
]
PLUGIN_INPUTS = [{}, {"time_slicing": {"replicas": 4}}, {"mig_strategy": "mixed", "time_slicing": {"replicas": 2}}]


@pytest.mark.parametrize("params", STACK_INPUTS, ids=[p["runtime"] for p in STACK_INPUTS])
def test_stack_spec_applies_the_argument_spec_defaults(params):
    assert stack_spec.validate(params) == stack_spec.validate(filled(stack_options.STACK_OPTIONS, params))


@pytest.mark.parametrize("params", PLUGIN_INPUTS)
def test_device_plugin_builder_applies_the_argument_spec_defaults(params):
    assert device_plugin_builder.validate(params) == device_plugin_builder.validate(
        filled(device_plugin_options.PLUGIN_OPTIONS, params))


@pytest.mark.parametrize("option, sub, value", [
    ("warmup", "count", 11), ("warmup", "poll_interval_s", 2.0), ("gpu", "mig_strategy", "single"), ("gpu", "count", 2),
])
def test_stack_default_check_finds_a_difference(option, sub, value):
    # a nested default changed in the argument spec only: the validator's own default no longer agrees
    options = copy.deepcopy(stack_options.STACK_OPTIONS)
    options[option]["options"][sub]["default"] = value
    params = dict(STACK_INPUTS[0], gpu={"mig_profile": "1g.10gb", "product": "NVIDIA-H100-80GB-HBM3"})
    assert stack_spec.validate(params) == stack_spec.validate(filled(stack_options.STACK_OPTIONS, params))
    assert stack_spec.validate(params) != stack_spec.validate(filled(options, params))


def test_device_plugin_default_check_finds_a_difference():
    options = copy.deepcopy(device_plugin_options.PLUGIN_OPTIONS)
    options["time_slicing"]["options"]["rename_by_default"]["default"] = True
    params = {"time_slicing": {"replicas": 4}}
    assert device_plugin_builder.validate(params) != device_plugin_builder.validate(filled(options, params))


def _module_specs():
    return {name: module_argument_spec(name) for name in MODULES}


@pytest.mark.parametrize("role", ROLES)
def test_role_options_match_the_module_options_they_pass(role):
    assert compare_role_to_modules(role, role_argument_spec(role), _module_specs()) == []


def options_not_passed(role, module, calls):
    """The module's options (cluster access aside) that no task of the role sets from <role>_<option>."""
    passed = {option for called, option, variable, _omitted in calls if called == module and variable == "%s_%s" % (role, option)}
    return sorted(set(module_argument_spec(module)) - set(AUTH_ARG_SPEC) - passed)


@pytest.mark.parametrize("role, module", sorted(WRAPPERS.items()))
def test_wrapping_role_passes_every_module_option(role, module):
    assert options_not_passed(role, module, role_module_calls(role)) == []


def test_wrapper_check_finds_an_option_not_passed():
    calls = [call for call in role_module_calls("device_plugin") if call[1] != "force_conflicts"]
    calls.append(("device_plugin", "wait_timeout", "device_plugin_rollout_timeout", False))
    calls = [call for call in calls if call[2] != "device_plugin_wait_timeout"]
    assert options_not_passed("device_plugin", "device_plugin", calls) == ["force_conflicts", "wait_timeout"]


def test_role_comparison_finds_a_difference():
    role_spec = copy.deepcopy(role_argument_spec("serving_runtime"))
    role_spec["serving_runtime_wait_timeout"]["default"] = 300
    role_spec["serving_runtime_spread"]["choices"].append("always")
    role_spec["serving_runtime_gpu"]["options"]["count"]["default"] = 2
    role_spec["serving_runtime_image"]["default"] = "docker.io/tensorflow/serving:2.18.0"
    del role_spec["serving_runtime_warmup"]["options"]["listen_port"]
    assert compare_role_to_modules("serving_runtime", role_spec, _module_specs()) == [
        "serving_runtime_image: the role's default 'docker.io/tensorflow/serving:2.18.0' should be empty: the task "
        "leaves it out when empty, so the module's default applies",
        "serving_runtime_gpu.count: default is 2 in the role, 1 in the module",
        "serving_runtime_spread: choices is ['always', 'none', 'prefer', 'require'] in the role, "
        "['none', 'prefer', 'require'] in the module",
        "serving_runtime_warmup.listen_port: only in the module",
        "serving_runtime_wait_timeout: default is 300 in the role, 600 in the module",
    ]


@pytest.mark.parametrize("role", ROLES)
def test_role_defaults_match_argument_spec(role):
    assert compare_defaults_to_argument_spec(role_defaults(role), role_argument_spec(role)) == []


def test_defaults_comparison_finds_a_difference():
    defaults = dict(role_defaults("device_plugin"))
    defaults["device_plugin_wait_timeout"] = 600
    del defaults["device_plugin_state"]
    defaults["device_plugin_extra"] = 1
    defaults["device_plugin_time_slicing"] = {"replicas": 2}
    assert compare_defaults_to_argument_spec(defaults, role_argument_spec("device_plugin")) == [
        "device_plugin_extra: in defaults/main.yml but not in meta/argument_specs.yml",
        "device_plugin_state: argument_specs gives default 'present', defaults/main.yml does not set it",
        "device_plugin_time_slicing: defaults/main.yml sets {'replicas': 2}, argument_specs gives no default",
        "device_plugin_wait_timeout: default is 600 in defaults/main.yml, 300 in argument_specs",
    ]
