# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: input_problem
short_description: What a module would refuse in a set of options, before it runs
version_added: 0.1.0
description:
  - Runs the module's own checks on the options, without a cluster, and returns the first problem, or an empty string.
  - First the module's argument spec, as AnsibleModule checks it (types, choices, required options, options required
    together); then the module's own validation (label values, pinned images, GPU requests and the rest).
  - A role's preflight calls it with its variables, so the role refuses bad input before anything is written, with the
    same rule the module applies. With O(prefix), option names in the message become the role's variable names.
author:
  - inferops.kubernetes maintainers (@inferops)
options:
  _input:
    description: The module's options, as the role would pass them (unset ones as null).
    type: dict
    required: true
  module:
    description: The module whose checks run.
    type: str
    choices: [inference_stack, device_plugin, inference_access, inference_ingress, inference_autoscaling, dcgm_exporter, inference_monitoring]
    required: true
  prefix:
    description: Put in front of option names in the message, for example V(serving_runtime_).
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Refuse what the device plugin module would refuse, in the role's variable names
  vars:
    problem: >-
      {{ {'image': device_plugin_image, 'mig_strategy': device_plugin_mig_strategy}
         | inferops.kubernetes.input_problem('device_plugin', 'device_plugin_') }}
  ansible.builtin.assert:
    that: problem | length == 0
    fail_msg: "{{ problem }}"
"""

RETURN = r"""
_value:
  description: The first problem, naming the option (or variable) and the fix; empty when the options are accepted.
  type: str
"""

import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.errors import InputError
from ansible_collections.inferops.kubernetes.plugins.module_utils.dcgm_exporter import manifests as dcgm_exporter
from ansible_collections.inferops.kubernetes.plugins.module_utils.dcgm_exporter import options as dcgm_exporter_options
from ansible_collections.inferops.kubernetes.plugins.module_utils.device_plugin import manifests as device_plugin
from ansible_collections.inferops.kubernetes.plugins.module_utils.device_plugin import options as device_plugin_options
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack import deploy
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack import options as stack_options
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.access import deploy as access
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.access import options as access_options
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.ingress import deploy as ingress_deploy
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.ingress import options as ingress_options
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.autoscaling import deploy as autoscaling
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.autoscaling import options as autoscaling_options
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.monitoring import deploy as monitoring
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.monitoring import options as monitoring_options


def _check_stack(params):
    deploy.plan(params)


def _check_device_plugin(params):
    device_plugin.validate({name: params.get(name) for name in device_plugin.DEFAULTS})


def _check_dcgm_exporter(params):
    dcgm_exporter.validate({name: params.get(name) for name in dcgm_exporter.DEFAULTS})


# module: (argument spec, required_if, the module's own validation)
MODULES = {
    "inference_stack": (stack_options.ARGUMENT_SPEC, stack_options.REQUIRED_IF, _check_stack),
    "device_plugin": (device_plugin_options.ARGUMENT_SPEC, [], _check_device_plugin),
    "inference_access": (access_options.ARGUMENT_SPEC, access_options.REQUIRED_IF, access.plan),
    "inference_ingress": (ingress_options.ARGUMENT_SPEC, [], ingress_deploy.plan),
    "inference_autoscaling": (autoscaling_options.ARGUMENT_SPEC, [], autoscaling.plan),
    "dcgm_exporter": (dcgm_exporter_options.ARGUMENT_SPEC, [], _check_dcgm_exporter),
    "inference_monitoring": (monitoring_options.ARGUMENT_SPEC, [], monitoring.plan),
}


def _renamed(message, names, prefix):
    """The message with option names turned into variable names: the leading option path of an input error
    ("model.name: ..."), or the option names in the argument spec's own sentences."""
    if not prefix:
        return message

    def name(text):
        return prefix + text if text.split(".")[0] in names else text

    def names_in(text):
        return ", ".join(name(item.strip()) for item in text.split(","))

    # AnsibleModule's argument spec messages
    found = re.match(r"^value of (\S+) must be (.*)$", message)
    if found:
        return "value of %s must be %s" % (name(found.group(1)), found.group(2))
    found = re.match(r"^missing required arguments: (.*?) found in (\S+)$", message)
    if found:
        return "missing required arguments: %s found in %s" % (found.group(1), name(found.group(2)))
    found = re.match(r"^missing required arguments: (.*)$", message)
    if found:
        return "missing required arguments: %s" % names_in(found.group(1))
    found = re.match(r"^(\S+) is (.*) but (all|any) of the following are missing: (.*)$", message)
    if found:
        return "%s is %s but %s of the following are missing: %s" % (
            name(found.group(1)), found.group(2), found.group(3), names_in(found.group(4)))
    # the module's own input errors: "<option path>: <problem>. <fix>"
    head = re.split(r"[.\[:]", message, maxsplit=1)[0]
    return prefix + message if head in names else message


def input_problem(options, module, prefix=""):
    if module not in MODULES:
        raise AnsibleFilterError("input_problem: module must be one of %s, got %r" % (", ".join(sorted(MODULES)), module))
    if not isinstance(options, dict):
        raise AnsibleFilterError("input_problem: expected a mapping of options, got %s" % type(options).__name__)
    spec, required_if, check = MODULES[module]
    unknown = sorted(set(options) - set(spec))
    if unknown:
        raise AnsibleFilterError("input_problem: %s has no option(s) %s" % (module, ", ".join(unknown)))
    # unset options are left out, as a role's omit leaves them out of the module's arguments
    given = {key: value for key, value in options.items() if value is not None}
    result = ArgumentSpecValidator(spec, required_if=required_if).validate(given)
    if result.error_messages:
        return _renamed(result.error_messages[0], spec, prefix)
    try:
        check(result.validated_parameters)
    except InputError as exc:
        return _renamed(exc.msg, spec, prefix)
    return ""


class FilterModule:
    def filters(self):
        return {"input_problem": input_problem}
