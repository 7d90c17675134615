# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors of the Kubernetes access layer, each with a message that names the cause and the fix."""

from __future__ import annotations

import json
import re
import time
from typing import Callable, Dict, Optional, TypeVar

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.errors import InferopsError

# Answers worth another try: optimistic-lock conflicts, throttling, an API server restarting.
T = TypeVar("T")

RETRY_STATUSES = (409, 429, 500, 502, 503, 504)

# API groups of the CRDs this collection writes, and what installs them.
CRD_PROVIDERS: Dict[str, str] = {
    "keda.sh": "KEDA",
    "monitoring.coreos.com": "the prometheus-operator CRDs",
    "serving.kserve.io": "KServe",
    "cert-manager.io": "cert-manager",
    "gateway.networking.k8s.io": "the Gateway API CRDs",
    "nvidia.com": "the NVIDIA GPU Operator",
}


class K8sError(InferopsError):
    """A failure of the Kubernetes access layer that a module reports as-is."""


class K8sConfigError(K8sError):
    """The connection settings themselves are wrong (kubeconfig path, context, options)."""


class K8sUnreachableError(K8sError):
    """The API server did not answer."""


class K8sAuthError(K8sError):
    """401 or 403."""


class K8sCrdMissingError(K8sError):
    """The kind is served by a CRD that is not installed (or not yet established)."""


class K8sConflictError(K8sError):
    """409 that retries could not resolve, or a server-side apply field conflict."""


class K8sApiError(K8sError):
    """Any other error answer of the API server."""


# How the API server words a refusal by an admission webhook (validating or mutating), whatever status
# code the webhook chose (controller-runtime's validators answer 403).
_WEBHOOK_DENIAL = re.compile(r'admission webhook "([^"]+)" denied the request(?:: )?(.*)', re.S)


def missing_crd_error(api_version: str, kind: str) -> K8sCrdMissingError:
    group = api_version.split("/", 1)[0] if "/" in api_version else ""
    provider = CRD_PROVIDERS.get(group)
    hint = "install %s first" % provider if provider else "install the CustomResourceDefinition that serves it first"
    return K8sCrdMissingError(
        "The cluster does not serve %s %s: its CustomResourceDefinition is not installed or not established; %s."
        % (api_version, kind, hint),
        api_version=api_version,
        kind=kind,
    )


def _status_message(exc: Exception) -> str:
    """The `message` of a Kubernetes Status body, or the raw reason."""
    body = getattr(exc, "body", None)
    message: str
    if body:
        try:
            data = json.loads(body)
            if isinstance(data, dict) and data.get("message"):
                message = data["message"]
                return message
        except (TypeError, ValueError):
            pass
    message = getattr(exc, "reason", None) or str(exc)
    return message


def _status_reason(exc: Exception) -> Optional[str]:
    body = getattr(exc, "body", None)
    if body:
        try:
            reason: Optional[str] = (json.loads(body) or {}).get("reason")
            return reason
        except (TypeError, ValueError, AttributeError):
            return None
    return None


def is_apply_conflict(exc: Exception) -> bool:
    """A server-side apply field-ownership conflict (not an optimistic-lock 409)."""
    return getattr(exc, "status", None) == 409 and "Apply failed with" in _status_message(exc)


def translate_api_error(exc: Exception, verb: str, kind: str, name: Optional[str] = None, namespace: Optional[str] = None,
                        context: Optional[str] = None) -> K8sError:
    """Turn an ApiException into a K8sError that says what was attempted and what to do."""
    status = getattr(exc, "status", None)
    message = _status_message(exc)
    target = kind
    if name:
        target += " %s" % (namespace + "/" + name if namespace else name)
    elif namespace:
        target += " in namespace %s" % namespace
    who = " (context %s)" % context if context else ""
    if status == 401:
        return K8sAuthError(
            "401 Unauthorized while trying to %s %s: the API server rejected the credentials%s. "
            "Check the token or client certificate in the kubeconfig, or api_key." % (verb, target, who),
            status=status,
        )
    denial = _WEBHOOK_DENIAL.search(message)
    if denial:
        # a policy of the cluster, not the caller's permissions: RBAC advice would send the user astray
        return K8sApiError(
            "The admission webhook %s refused to let %s %s: %s. That is a webhook's policy, not RBAC: change what "
            "it objects to, or ask whoever runs that webhook." % (denial.group(1), verb, target, denial.group(2) or message),
            status=status, reason=_status_reason(exc), webhook=denial.group(1),
        )
    if status == 403 and "because it is being terminated" in message:
        return K8sApiError(
            "Cannot %s %s: its namespace is still being deleted. Wait until the namespace is gone (a namespace "
            "deleted a moment ago takes a while to empty), then run again. The API server said: %s" % (verb, target, message),
            status=status, reason=_status_reason(exc),
        )
    if status == 403:
        return K8sAuthError(
            "403 Forbidden: the identity in use may not %s %s%s. The API server said: %s. "
            "Grant that verb on that resource with RBAC, or use an identity that has it." % (verb, target, who, message),
            status=status,
        )
    if status == 409 and is_apply_conflict(exc):
        return K8sConflictError(
            "Server-side apply of %s conflicts with fields owned by another field manager: %s. "
            "Set force_conflicts=true to take ownership, or remove those fields from the spec." % (target, message),
            status=status,
        )
    if status == 409:
        return K8sConflictError("409 Conflict while trying to %s %s, still after retries: %s" % (verb, target, message), status=status)
    if status == 422:
        return K8sApiError("The API server rejected %s as invalid: %s" % (target, message), status=status, reason=_status_reason(exc))
    return K8sApiError("%s while trying to %s %s: %s" % (status, verb, target, message), status=status, reason=_status_reason(exc))


def with_retries(func: Callable[[], T], retries: int = 5, delay: float = 0.5, sleep: Callable[[float], None] = time.sleep) -> T:
    """Call func; retry optimistic-lock conflicts, throttling and API restarts with backoff.

    A server-side apply field conflict is not retried: it needs a decision (force_conflicts).
    """
    attempt = 0
    while True:
        try:
            return func()
        except K8sError as exc:
            status = exc.details.get("status")
            retryable = isinstance(exc, K8sUnreachableError) or (
                status in RETRY_STATUSES and "Server-side apply" not in exc.msg
            )
            if not retryable or attempt >= retries:
                raise
        attempt += 1
        sleep(delay * (2 ** (attempt - 1)))
