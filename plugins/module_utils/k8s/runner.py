# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The few lines every API module shares: library check, client, error reporting."""

from __future__ import annotations

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.client import (
    AUTH_ARG_SPEC,
    HAS_KUBERNETES,
    KUBERNETES_IMPORT_ERROR,
    K8sClient,
)
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.errors import K8sError


def api_argument_spec(**module_options):
    """The module's own options plus the shared auth options."""
    spec = dict(AUTH_ARG_SPEC)
    spec.update(module_options)
    return spec


def run_api_module(module, func):
    """Call func(client) and exit with its result dict; a K8sError becomes a failure with its message."""
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=KUBERNETES_IMPORT_ERROR)
    try:
        result = func(K8sClient(module.params))
    except K8sError as exc:
        module.fail_json(msg=exc.msg, error=type(exc).__name__)
    module.exit_json(**result)
