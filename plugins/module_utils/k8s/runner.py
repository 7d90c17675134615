# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every API module shares around its work: the auth options, the client, and the one runner."""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.errors import MissingLibraryError
from ansible_collections.inferops.kubernetes.plugins.module_utils.common.runner import run_module
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.client import (
    AUTH_ARG_SPEC,
    HAS_KUBERNETES,
    KUBERNETES_IMPORT_ERROR,
    K8sClient,
)


def api_argument_spec(**module_options: Any) -> Dict[str, Any]:
    """The module's own options plus the shared auth options."""
    spec = dict(AUTH_ARG_SPEC)
    spec.update(module_options)
    return spec


def connect(params: Dict[str, Any], warn: Optional[Callable[[str], None]] = None) -> K8sClient:
    """A client from the auth options; raises MissingLibraryError without the kubernetes package.

    warn is the module's warn(): the client says through it when it cannot keep discovery between runs."""
    if not HAS_KUBERNETES:
        raise MissingLibraryError(missing_required_lib("kubernetes"), KUBERNETES_IMPORT_ERROR)
    return K8sClient(params, warn=warn)


def run_api_module(module: Any, func: Callable[[K8sClient], Dict[str, Any]], invocation: Optional[Dict[str, Any]] = None) -> None:
    """Exit with func(client)'s result; any InferopsError (a missing library too) becomes a failure.

    invocation: see common.runner.run_module."""
    run_module(module, lambda: func(connect(module.params, warn=module.warn)), invocation=invocation)
