# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way a module turns its work into a result: exit with what the work returned, or fail
with the message of the InferopsError it raised, the error's class name and its result keys."""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.errors import InferopsError


def failure(exc: InferopsError) -> Dict[str, Any]:
    """The fail_json keyword arguments of an error (msg, error, and the result keys it carries)."""
    result = dict(exc.result)
    result.update(msg=exc.msg, error=type(exc).__name__)
    return result


def run_module(module: Any, work: Callable[[], Dict[str, Any]], invocation: Optional[Dict[str, Any]] = None) -> None:
    """Call work() and exit with the dict it returns; an InferopsError becomes a failed result.

    invocation, when given, is the result's invocation key on success and failure alike, in place of the
    whole module arguments that AnsibleModule echoes otherwise (for modules whose arguments are large)."""
    try:
        result, finish = work(), module.exit_json
    except InferopsError as exc:
        result, finish = failure(exc), module.fail_json
    if invocation is not None:
        result.setdefault("invocation", invocation)
    finish(**result)
