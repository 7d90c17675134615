# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Service in front of the model server: the runtime's named service ports (http, grpc and, where it has one, metrics)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.builders import common

if TYPE_CHECKING:
    from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.shapes import StackSpec

APP_PROTOCOLS = {"http": "http", "grpc": "kubernetes.io/h2c", "metrics": "http"}


def service(spec: StackSpec, runtime):
    ports = [
        {"name": name, "port": spec["ports"][name], "targetPort": name, "protocol": "TCP", "appProtocol": APP_PROTOCOLS[name]}
        for name in runtime.service_ports if name in spec["ports"]
    ]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": common.metadata(spec, spec["name"]),
        "spec": {"type": "ClusterIP", "selector": common.selector_labels(spec), "ports": ports},
    }
