# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection to the Kubernetes API, shared by every API module.

Auth options carry kubernetes.core's names and K8S_AUTH_* variables (see the
`k8s_auth` doc fragment). API discovery is kept between module runs in a
cache private to the user (see discovery.py).
"""

from __future__ import annotations

import json
import os
import time
import traceback
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Union

from ansible.module_utils.basic import env_fallback

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.discovery import Clock, Warn, discovery_cache
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.errors import (
    K8sConfigError,
    K8sCrdMissingError,
    K8sUnreachableError,
    missing_crd_error,
    translate_api_error,
)

if TYPE_CHECKING:
    from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.waiter import Obj

try:
    import urllib3
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from kubernetes.client.rest import ApiException
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.dynamic import DynamicClient
    from kubernetes.dynamic.exceptions import ResourceNotFoundError, ResourceNotUniqueError

    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR: Optional[str] = None
except ImportError:
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = traceback.format_exc()


AUTH_ARG_SPEC: Dict[str, Dict[str, Any]] = dict(
    kubeconfig=dict(type="raw", fallback=(env_fallback, ["K8S_AUTH_KUBECONFIG"])),
    context=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_CONTEXT"])),
    host=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_HOST"])),
    api_key=dict(type="str", no_log=True, fallback=(env_fallback, ["K8S_AUTH_API_KEY"])),
    validate_certs=dict(type="bool", aliases=["verify_ssl"], fallback=(env_fallback, ["K8S_AUTH_VERIFY_SSL"])),
    ca_cert=dict(type="path", aliases=["ssl_ca_cert"], fallback=(env_fallback, ["K8S_AUTH_SSL_CA_CERT"])),
    client_cert=dict(type="path", aliases=["cert_file"], fallback=(env_fallback, ["K8S_AUTH_CERT_FILE"])),
    client_key=dict(type="path", aliases=["key_file"], no_log=False, fallback=(env_fallback, ["K8S_AUTH_KEY_FILE"])),
    proxy=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_PROXY"])),
)

# Sent with every request, so API server logs and audit events say who wrote. Deliberately not
# the field manager's name: the API server names the manager of a plain create or update after
# the user agent, and only server-side apply under FIELD_MANAGER marks fields as this collection's.
USER_AGENT = "inferops-kubernetes/0.1.0"

# How long one API request may take, and how often a dropped connection is retried
# by urllib3 before the module says the API server is unreachable.
REQUEST_TIMEOUT = 30
CONNECT_RETRIES = 2


def _unknown_resource(exc: ApiException) -> bool:
    """A 404 for the resource type itself ("the server could not find the requested resource"), not for
    one object: the API server names the object in the Status details of the latter."""
    if exc.status != 404:
        return False
    try:
        body = json.loads(exc.body or "{}")
    except (TypeError, ValueError):
        return False
    return isinstance(body, dict) and not (body.get("details") or {}).get("name")


def _where(api_version: str) -> Dict[str, str]:
    """Where the dynamic client looks a kind up: an apiVersion without a group ("v1") is the core group under /api.

    Without the prefix, the library reads the v1 resources of every API group to find a core kind (a
    discovery GET per group, twenty and more on a cold cache).
    """
    return {} if "/" in api_version else {"prefix": "api"}


def _kubeconfig_contexts(path_or_dict: Union[str, Dict[str, Any]]) -> List[str]:
    try:
        if isinstance(path_or_dict, dict):
            contexts = path_or_dict.get("contexts") or []
            return sorted(c.get("name") for c in contexts if c.get("name"))
        contexts, _active = k8s_config.list_kube_config_contexts(config_file=path_or_dict)
        return sorted(c["name"] for c in contexts)
    except Exception:  # pylint: disable=broad-except
        return []


def build_configuration(params: Dict[str, Any]) -> Any:
    """A kubernetes.client.Configuration from the auth options, with errors that name the option."""
    configuration = k8s_client.Configuration()
    kubeconfig: Any = params.get("kubeconfig")  # a path, a kubeconfig dict, or wrong: type "raw"
    context = params.get("context")
    host = params.get("host")

    if isinstance(kubeconfig, str):
        kubeconfig = os.path.expanduser(kubeconfig)
        if not os.path.isfile(kubeconfig):
            raise K8sConfigError(
                "kubeconfig: the file %s does not exist. Give the path of an existing kubeconfig "
                "(option kubeconfig or K8S_AUTH_KUBECONFIG), or host and api_key." % kubeconfig
            )
    elif kubeconfig is not None and not isinstance(kubeconfig, dict):
        raise K8sConfigError("kubeconfig: expected a file path or a kubeconfig dictionary, got %s." % type(kubeconfig).__name__)

    if kubeconfig is None and host is None:
        # kubernetes.core behaves the same: in-cluster service account first, then ~/.kube/config.
        if os.environ.get("KUBERNETES_SERVICE_HOST") and context is None:
            try:
                k8s_config.load_incluster_config(client_configuration=configuration)
                kubeconfig = False
            except ConfigException:
                kubeconfig = None
        if kubeconfig is None:
            default = os.path.expanduser(os.environ.get("KUBECONFIG", "~/.kube/config").split(os.pathsep)[0])
            if not os.path.isfile(default):
                raise K8sConfigError(
                    "No cluster given: set kubeconfig (or K8S_AUTH_KUBECONFIG), or host and api_key. "
                    "The default kubeconfig %s does not exist." % default
                )
            kubeconfig = default

    if kubeconfig:
        try:
            if isinstance(kubeconfig, dict):
                k8s_config.load_kube_config_from_dict(
                    kubeconfig, context=context, client_configuration=configuration, persist_config=False
                )
            else:
                k8s_config.load_kube_config(
                    config_file=kubeconfig, context=context, client_configuration=configuration, persist_config=False
                )
        except ConfigException as exc:
            where = kubeconfig if isinstance(kubeconfig, str) else "the kubeconfig dictionary"
            known = _kubeconfig_contexts(kubeconfig)
            if context and context not in known:
                raise K8sConfigError(
                    "context: %s is not a context of %s. Known contexts: %s."
                    % (context, where, ", ".join(known) or "none")
                )
            raise K8sConfigError("kubeconfig: %s could not be loaded: %s" % (where, exc))
        except (OSError, ValueError) as exc:
            raise K8sConfigError("kubeconfig: %s could not be read: %s" % (kubeconfig, exc))

    if host:
        configuration.host = host
    if params.get("api_key"):
        configuration.api_key = {"authorization": "Bearer %s" % params["api_key"]}
    if params.get("validate_certs") is not None:
        configuration.verify_ssl = params["validate_certs"]
    for option, attribute in (("ca_cert", "ssl_ca_cert"), ("client_cert", "cert_file"), ("client_key", "key_file")):
        value = params.get(option)
        if value:
            if not os.path.isfile(value):
                raise K8sConfigError("%s: the file %s does not exist." % (option, value))
            setattr(configuration, attribute, value)
    if params.get("proxy"):
        configuration.proxy = params["proxy"]
    configuration.retries = urllib3.Retry(total=CONNECT_RETRIES, connect=CONNECT_RETRIES, read=0, redirect=0, backoff_factor=0.2)
    return configuration


class K8sClient:
    """The dynamic client plus the bits every API module needs around it."""

    def __init__(self, params: Dict[str, Any], warn: Optional[Warn] = None, clock: Clock = time.time) -> None:
        """warn: the module's warn(), told when the discovery cache cannot be used; clock: ages the cache."""
        self.params = params
        self._warn = warn
        self._clock = clock
        self.context: Optional[str] = params.get("context")
        self.configuration = build_configuration(params)
        self.api_client = k8s_client.ApiClient(self.configuration)
        self.api_client.user_agent = USER_AGENT
        self._dynamic: Any = None

    @property
    def host(self) -> str:
        host: str = self.configuration.host
        return host

    @property
    def dynamic(self) -> Any:
        if self._dynamic is None:
            try:
                cache_file, discoverer = discovery_cache(self.configuration, self.context, warn=self._warn, clock=self._clock)
                self._dynamic = DynamicClient(self.api_client, cache_file=cache_file, discoverer=discoverer)
            except ApiException as exc:
                raise translate_api_error(exc, "discover", "the API", context=self.context)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise self.unreachable(exc)
        return self._dynamic

    def unreachable(self, exc: Exception) -> K8sUnreachableError:
        return K8sUnreachableError(
            "The Kubernetes API server at %s is unreachable: %s. Check that the cluster is running and that "
            "kubeconfig / context / host point at it." % (self.host, getattr(exc, "reason", None) or exc),
            host=self.host,
        )

    def resource(self, api_version: str, kind: str) -> Any:
        """The dynamic Resource for apiVersion/kind; a missing CRD gets a message that says what to install."""
        where = _where(api_version)
        try:
            return self.dynamic.resources.get(api_version=api_version, kind=kind, **where)
        except ResourceNotFoundError:
            raise missing_crd_error(api_version, kind)
        except ResourceNotUniqueError:
            # A kind served as both the resource and a subresource: pick the top-level one.
            for candidate in self.dynamic.resources.search(api_version=api_version, kind=kind, **where):
                if "/" not in candidate.name:
                    return candidate
            raise missing_crd_error(api_version, kind)
        except ApiException as exc:
            raise translate_api_error(exc, "discover", kind, context=self.context)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self.unreachable(exc)

    def served(self, api_version: str, kind: str) -> bool:
        """Whether the API server serves the kind: an optional API (OpenShift's Route) or a CRD's kind."""
        try:
            self.resource(api_version, kind)
        except K8sCrdMissingError:
            return False
        return True

    def call(self, verb: str, kind: str, func: Callable[..., Any], *args: Any, name: Optional[str] = None,
             namespace: Optional[str] = None, api_version: Optional[str] = None, **kwargs: Any) -> Obj:
        """Run one API call and return the answer as plain data (dicts and lists).

        The JSON is parsed straight into dicts: the dynamic client's own objects cost seconds
        on a list of a thousand nodes. A failure becomes a K8sError naming verb, kind and object.
        With api_version, a kind the server no longer serves (its CRD deleted since discovery was
        cached) is reported as a missing CRD.
        """
        kwargs.setdefault("_request_timeout", REQUEST_TIMEOUT)
        kwargs["serialize"] = False
        try:
            response = func(*args, name=name, namespace=namespace, **kwargs) if name else func(*args, namespace=namespace, **kwargs)
        except ApiException as exc:
            if api_version and _unknown_resource(exc):
                self._check_served(api_version, kind)
            raise translate_api_error(exc, verb, kind, name=name, namespace=namespace, context=self.context)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self.unreachable(exc)
        data = response.data
        answer: Obj = json.loads(data) if data else {}
        return answer

    def _check_served(self, api_version: str, kind: str) -> None:
        """Raise the missing-CRD error when fresh discovery does not know the kind (cached discovery did)."""
        self.invalidate_discovery()
        try:
            self.dynamic.resources.get(api_version=api_version, kind=kind, **_where(api_version))
        except ResourceNotFoundError:
            raise missing_crd_error(api_version, kind)
        except Exception:  # pylint: disable=broad-except
            return  # served after all (or discovery failed too): the original error is the one to report

    def list(self, api_version: str, kind: str, namespace: Optional[str] = None, label_selector: Optional[str] = None,
             field_selector: Optional[str] = None) -> List[Obj]:
        """All objects of a kind as plain dicts."""
        resource = self.resource(api_version, kind)
        kwargs: Dict[str, str] = {}
        if label_selector:
            kwargs["label_selector"] = label_selector
        if field_selector:
            kwargs["field_selector"] = field_selector
        items: List[Obj] = self.call("list", resource.kind, resource.get, namespace=namespace, api_version=api_version, **kwargs).get("items") or []
        return items

    def get(self, api_version: str, kind: str, name: str, namespace: Optional[str] = None) -> Optional[Obj]:
        """One object as a dict, or None when it does not exist."""
        resource = self.resource(api_version, kind)
        try:
            return self.call("get", resource.kind, resource.get, name=name, namespace=namespace, api_version=api_version)
        except Exception as exc:  # pylint: disable=broad-except
            if getattr(exc, "details", {}).get("status") == 404:
                return None
            raise

    def namespaced(self, api_version: str, kind: str) -> bool:
        """Whether objects of the kind live in a namespace."""
        namespaced: bool = self.resource(api_version, kind).namespaced
        return namespaced

    def apply(self, obj: Obj, namespace: Optional[str] = None, field_manager: Optional[str] = None, force_conflicts: bool = False,
              dry_run: bool = False) -> Obj:
        """Server-side apply of one object under field_manager; returns the object as the server has it."""
        resource = self.resource(obj["apiVersion"], obj["kind"])
        kwargs: Dict[str, Any] = {"field_manager": field_manager, "force_conflicts": force_conflicts}
        if dry_run:
            kwargs["dry_run"] = "All"
        return self.call("apply", obj["kind"], resource.server_side_apply, body=obj, name=obj["metadata"]["name"],
                         namespace=namespace, api_version=obj["apiVersion"], **kwargs)

    def patch(self, api_version: str, kind: str, name: str, body: Any, namespace: Optional[str] = None,
              content_type: str = "application/merge-patch+json", field_manager: Optional[str] = None,
              dry_run: bool = False) -> Obj:
        """A merge patch (or another content_type, such as application/json-patch+json) of one object."""
        resource = self.resource(api_version, kind)
        kwargs = {"content_type": content_type}
        if field_manager:
            kwargs["field_manager"] = field_manager
        if dry_run:
            kwargs["dry_run"] = "All"
        return self.call("patch", kind, resource.patch, body=body, name=name, namespace=namespace, api_version=api_version, **kwargs)

    def delete(self, api_version: str, kind: str, name: str, namespace: Optional[str] = None,
               propagation_policy: str = "Background", dry_run: bool = False) -> Obj:
        """Delete one object; its dependents go in the background unless propagation_policy says otherwise."""
        resource = self.resource(api_version, kind)
        kwargs = {"propagation_policy": propagation_policy}
        if dry_run:
            kwargs["dry_run"] = "All"
        return self.call("delete", kind, resource.delete, name=name, namespace=namespace, api_version=api_version, **kwargs)

    def evict(self, namespace: str, name: str) -> Obj:
        """Evict a pod through the Eviction API, so PodDisruptionBudgets are honoured (429 while one forbids it)."""
        body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": namespace}}
        path = "/api/v1/namespaces/%s/pods/%s/eviction" % (namespace, name)
        return self.call("evict", "Pod", self.dynamic.request, "post", path, body=body)

    def read_log(self, namespace: str, pod: str, container: Optional[str], previous: bool = False, tail_lines: int = 20,
                 timeout: float = 10) -> List[str]:
        """The last tail_lines non-empty lines of a container's log (of its previous instance with previous=True)."""
        # CoreV1Api is imported only when a log is read: importing it costs a second or two in every module run.
        from kubernetes.client import CoreV1Api  # pylint: disable=import-outside-toplevel

        try:
            text = CoreV1Api(self.api_client).read_namespaced_pod_log(
                pod, namespace, container=container, previous=previous, tail_lines=tail_lines, _request_timeout=timeout,
            )
        except ApiException as exc:
            raise translate_api_error(exc, "read the log of", "Pod", name=pod, namespace=namespace, context=self.context)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self.unreachable(exc)
        return [line for line in (text or "").splitlines() if line.strip()][-tail_lines:]

    def invalidate_discovery(self) -> None:
        """Forget discovery, e.g. after a CRD became established."""
        if self._dynamic is not None:
            self._dynamic.resources.invalidate_cache()
