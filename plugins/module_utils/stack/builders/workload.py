# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Deployment that runs a runtime's server container (and the warmup sidecar).

Used by every runtime whose pods the module runs itself (all but KServe, whose controller makes them);
the runtime object brings the server container and its health paths.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.objects import CONFIG_HASH_ANNOTATION
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.builders import common
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.builders import warmup as warmup_builder

if TYPE_CHECKING:
    from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.shapes import StackSpec


def pod_spec(spec: StackSpec, runtime, server, volumes, extra_containers=()):
    """The pod around a server container: security, scheduling, probes, graceful stop."""
    server = dict(server)
    server.update(common.probes(spec, runtime))
    server["resources"] = common.resources(spec)
    server["securityContext"] = common.container_security_context(spec)
    server["lifecycle"] = common.lifecycle()
    pod = {
        # no API token in the pods unless the model service says it calls the API
        "automountServiceAccountToken": spec["service_account_token"],
        "enableServiceLinks": False,
        "securityContext": common.pod_security_context(),
        "terminationGracePeriodSeconds": spec["termination_grace_period"],
        "containers": [server] + list(extra_containers),
        "volumes": [v for v in volumes if v],
    }
    if spec["service_account"]:
        pod["serviceAccountName"] = spec["service_account"]
    return common.place(pod, spec)


def deployment(spec: StackSpec, runtime, config_maps):
    """The Deployment; config_maps are the ConfigMaps its pods read (their hash rolls the pods)."""
    server, volumes = runtime.container(spec)
    extra = []
    if warmup_builder.needs_sidecar(spec, runtime):
        extra.append(warmup_builder.container(spec))
        volumes.append(warmup_builder.volume(spec))
    selector = common.selector_labels(spec)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": common.metadata(spec, spec["name"]),
        "spec": {
            "replicas": spec["replicas"],
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector},
            # Keep serving capacity during a rollout: a new pod must be Ready (loaded and warm) before an old one goes.
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            # The Deployment reports no progress only after the model had its whole startup_timeout to load.
            "progressDeadlineSeconds": spec["startup_timeout"] + 120,
            "template": {
                "metadata": {
                    "labels": common.labels(spec),
                    "annotations": {CONFIG_HASH_ANNOTATION: common.config_hash(*config_maps)},
                },
                "spec": pod_spec(spec, runtime, server, volumes, extra),
            },
        },
    }
