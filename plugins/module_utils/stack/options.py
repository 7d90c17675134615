# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inference_stack module's options: the one place their names, types, choices and defaults are written.

The module passes ARGUMENT_SPEC to AnsibleModule; spec.DEFAULTS is derived from STACK_OPTIONS, so a
plain dict given to spec.validate() gets the same top-level defaults as the module's params. The
module's DOCUMENTATION and the serving_runtime role's meta/argument_specs.yml are checked against
this by tests/unit/test_argument_specs.py.
"""

from __future__ import annotations

from typing import Any, Dict

from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.resources import MIG_STRATEGIES
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.options import APPLY_ARG_SPEC, STATE_ARG_SPEC
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack import runtimes

# What the stack is: the options spec.validate() reads.
STACK_OPTIONS: Dict[str, Dict[str, Any]] = dict(
    name=dict(type="str", required=True),
    namespace=dict(type="str", default="default"),
    runtime=dict(type="str", required=True, choices=list(runtimes.RUNTIMES)),
    image=dict(type="str"),
    model=dict(
        type="dict",
        required=True,
        options=dict(
            name=dict(type="str", required=True),
            pvc=dict(type="str"),
            path=dict(type="str"),
            storage_uri=dict(type="str"),
            versions=dict(type="list", elements="int"),
            version_policy=dict(type="str", choices=["latest", "all", "specific"]),
            latest_versions=dict(type="int"),
            version_labels=dict(type="dict"),
            backend=dict(type="str", choices=list(runtimes.TRITON_BACKENDS)),
            max_batch_size=dict(type="int"),
            instance_kind=dict(type="str", choices=list(runtimes.TRITON_INSTANCE_KINDS)),
            inputs=dict(type="list", elements="dict"),
            outputs=dict(type="list", elements="dict"),
            mar_file=dict(type="str"),
            version=dict(type="str"),
            format=dict(type="str"),
            format_version=dict(type="str"),
        ),
    ),
    replicas=dict(type="int", default=1),
    # Raw mappings: the spec checks quantities itself, and refuses fractions of extended resources.
    resources=dict(type="dict"),
    gpu=dict(
        type="dict",
        options=dict(
            count=dict(type="raw", default=1),
            resource=dict(type="str"),
            mig_profile=dict(type="str"),
            mig_strategy=dict(type="str", choices=list(MIG_STRATEGIES), default="mixed"),
            product=dict(type="str"),
        ),
    ),
    # Raw values: Ansible's str conversion would turn an unquoted true into "True"; the spec refuses it instead.
    node_selector=dict(type="dict", default={}),
    tolerations=dict(type="list", elements="dict", default=[]),
    spread=dict(type="str", choices=["none", "prefer", "require"], default="prefer"),
    labels=dict(type="dict", default={}),
    ports=dict(
        type="dict",
        options=dict(
            http=dict(type="int"),
            grpc=dict(type="int"),
            metrics=dict(type="int"),
            management=dict(type="int"),
        ),
    ),
    startup_timeout=dict(type="int", default=600),
    termination_grace_period=dict(type="int", default=60),
    max_unavailable=dict(type="raw", default=1),
    read_only_root_filesystem=dict(type="bool", default=True),
    service_account=dict(type="str"),
    service_account_token=dict(type="bool", default=False),
    warmup=dict(
        type="dict",
        options=dict(
            count=dict(type="int", default=10),
            body=dict(type="raw"),
            content_type=dict(type="str", default="application/json"),
            inputs=dict(type="list", elements="dict"),
            image=dict(type="str", default=runtimes.WARMUP_IMAGE),
            listen_port=dict(type="int", default=runtimes.WARMUP_PORT),
            poll_interval_s=dict(type="float", default=1.0),
            request_timeout_s=dict(type="float", default=10.0),
        ),
    ),
    kserve=dict(
        type="dict",
        options=dict(
            # No choices: the spec names KServe's old mode names with their current ones, which choices could not.
            deployment_mode=dict(type="str", default="Standard"),
            protocol=dict(type="str", choices=list(runtimes.KSERVE_PROTOCOLS), default="v1"),
            runtime=dict(type="str"),
            canary_traffic_percent=dict(type="int"),
            max_replicas=dict(type="int"),
            scale_metric=dict(type="str", choices=list(runtimes.KSERVE_SCALE_METRICS)),
            scale_target=dict(type="int"),
        ),
    ),
    overrides=dict(type="list", elements="dict", default=[]),
    create_namespace=dict(type="bool", default=False),
)

# How the module runs: where the objects go, whether to wait, what to do on failure.
RUN_OPTIONS = dict(
    mode=dict(type="str", choices=["apply", "render"], default="apply"),
    render_dir=dict(type="path"),
    wait=dict(type="bool", default=False),
    wait_timeout=dict(type="int", default=600),
    rollback_on_failure=dict(type="bool", default=False),
    **STATE_ARG_SPEC,
    **APPLY_ARG_SPEC,
)

ARGUMENT_SPEC = dict(STACK_OPTIONS, **RUN_OPTIONS)
REQUIRED_IF = [("mode", "render", ["render_dir"])]
