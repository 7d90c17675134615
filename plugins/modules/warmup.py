#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: warmup
short_description: Warm an inference service through its URL until latency settles
version_added: 0.1.0
description:
  - Sends inference requests to a model server through a URL the controller can reach (a Service, an
    ingress or a gateway) until the latency settles, and reports the cold (first request) and warm latency.
  - Latency has settled after O(settle_count) consecutive successful requests, each within O(settle_tolerance)
    percent of the running median of the warm requests (all successful requests after the first).
    The warm latency is the median and 90th percentile of those settled requests.
  - Stops early at O(max_requests) requests, after O(max_time) seconds, or after more than O(max_errors) failed
    requests (a status outside 2xx or no answer). Not settling is reported in RV(settled) and RV(reason);
    it fails the task only with O(fail_if_unsettled=true).
  - Requests go over one keep-alive connection, so warm latency measures the server, not new TCP and TLS handshakes.
  - This warms the replicas the URL reaches, from outside. To keep a restarted pod from taking traffic
    while cold, the pod itself is gated on warmup (native warmup or the warmup sidecar of the
    C(inferops.kubernetes.inference_stack) module).
author:
  - inferops.kubernetes maintainers (@inferops)
options:
  url:
    description:
      - Base URL of the inference service, for example V(http://iris.models.svc:8080) or V(https://models.example.com).
      - The protocol's path (O(protocol)) is appended to it.
    type: str
    required: true
  protocol:
    description:
      - V(tf_serving) - TensorFlow Serving REST, C(POST /v1/models/<model>[/versions/<version>]:predict).
      - V(kserve_v1) - KServe V1 protocol, C(POST /v1/models/<model>:predict).
      - V(v2) - Open Inference Protocol (KServe V2) REST, C(POST /v2/models/<model>[/versions/<version>]/infer).
      - V(triton) - the same as V(v2); Triton serves the Open Inference Protocol.
      - V(torchserve) - TorchServe inference API, C(POST /predictions/<model>[/<version>]).
      - V(raw) - O(method) to O(path) with O(payload) as the body.
    type: str
    required: true
    choices: [tf_serving, kserve_v1, v2, triton, torchserve, raw]
  model:
    description: Model name. Required unless O(protocol=raw).
    type: str
  model_version:
    description: Model version, for the protocols that address versions in the path.
    type: str
  payload:
    description:
      - The sample input.
      - For V(tf_serving) and V(kserve_v1), the list of instances, or an object with C(instances) or C(inputs).
      - For V(v2) and V(triton), the list of input tensors (C(name), C(shape), C(datatype), C(data)) or an object with C(inputs).
      - For V(torchserve) and V(raw), the body; a dict or list is sent as JSON, a string as it is.
    type: raw
  method:
    description: HTTP method with O(protocol=raw); the presets always use POST.
    type: str
    default: POST
    choices: [GET, POST, PUT]
  path:
    description: Request path with O(protocol=raw), starting with C(/).
    type: str
  headers:
    description: Extra request headers, shown in the result.
    type: dict
    default: {}
  secret_headers:
    description: Request headers whose values are secret (an C(Authorization) token, an API key); never shown or logged.
    type: dict
    default: {}
  validate_certs:
    description: Whether to verify the server's TLS certificate for an V(https://) O(url).
    type: bool
    default: true
  ca_path:
    description: PEM file of the CA certificates that signed the server's certificate.
    type: path
  client_cert:
    description: PEM client certificate for mutual TLS.
    type: path
  client_key:
    description: PEM private key of O(client_cert), when the certificate file does not hold it.
    type: path
  timeout:
    description: Seconds one request may take.
    type: float
    default: 30.0
  settle_count:
    description: Consecutive requests within O(settle_tolerance) of the running median that make latency settled.
    type: int
    default: 5
  settle_tolerance:
    description: Allowed distance from the running median, in percent of the median.
    type: float
    default: 10.0
  max_requests:
    description: At most this many requests are sent.
    type: int
    default: 100
  max_time:
    description: No new request is started after this many seconds.
    type: float
    default: 120.0
  max_errors:
    description: The warmup ends once more than this many requests have failed.
    type: int
    default: 3
  fail_if_unsettled:
    description: Fail the task when latency did not settle (otherwise RV(settled=false) is only reported).
    type: bool
    default: false
extends_documentation_fragment:
  - inferops.kubernetes.attributes
attributes:
  check_mode:
    support: full
    details: In check mode no request is sent; the result says so and shows the request that would be sent.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: Warming changes no configuration; C(changed) is always false.
requirements:
  - urllib3 (installed with the kubernetes Python client)
notes:
  - Latency is measured on the controller and includes the network path to O(url).
"""

EXAMPLES = r"""
- name: Warm a KServe sklearn model through its ingress
  inferops.kubernetes.warmup:
    url: https://iris.models.example.com
    protocol: v2
    model: iris
    payload:
      - name: input-0
        shape: [1, 4]
        datatype: FP32
        data: [[6.8, 2.8, 4.8, 1.4]]
    ca_path: /etc/ssl/certs/models-ca.pem
    secret_headers:
      Authorization: "Bearer {{ models_token }}"
  register: warm

- name: Show cold and warm latency
  ansible.builtin.debug:
    msg: "cold {{ warm.cold_latency_ms }} ms, warm median {{ warm.warm_latency_ms.median }} ms"

- name: Warm a TorchServe model and fail unless latency settles within 2 minutes
  inferops.kubernetes.warmup:
    url: http://resnet.models.svc:8080
    protocol: torchserve
    model: resnet
    payload: {"data": [0.1, 0.2, 0.3]}
    settle_count: 10
    settle_tolerance: 15
    max_time: 120
    fail_if_unsettled: true
"""

RETURN = r"""
settled:
  description: Whether latency settled before a limit was reached.
  returned: always
  type: bool
reason:
  description: Why latency did not settle (or, in check mode, that nothing was sent); null when settled.
  returned: always
  type: str
  sample: max_requests (100) reached before latency settled
requests_sent:
  description: Requests sent, failed ones included.
  returned: always
  type: int
  sample: 12
errors:
  description: Failed requests (no answer, or a status outside 2xx).
  returned: always
  type: int
error_details:
  description: The last five failed requests, each with its number, HTTP status (null when nothing answered), error and body excerpt.
  returned: always
  type: list
  elements: dict
cold_latency_ms:
  description: Latency of the first successful request, in milliseconds.
  returned: when a request succeeded
  type: float
  sample: 412.7
warm_latency_ms:
  description: Median and 90th percentile (nearest rank) of the settled window, or of all warm requests when not settled.
  returned: always
  type: dict
  sample: {"median": 3.1, "p90": 3.4, "window": 5}
cold_to_warm_ratio:
  description: RV(cold_latency_ms) divided by the warm median.
  returned: always
  type: float
  sample: 133.1
latencies_ms:
  description: Latency of every successful request in order, the cold one first.
  returned: always
  type: list
  elements: float
elapsed_s:
  description: Seconds the warmup took.
  returned: always
  type: float
request:
  description: The request sent (secret header values left out).
  returned: always
  type: dict
  sample: {"method": "POST", "url": "http://iris.models.svc:8080/v2/models/iris/infer", "headers": {"Content-Type": "application/json"}}
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.runner import run_module
from ansible_collections.inferops.kubernetes.plugins.module_utils.inference.session import HAS_URLLIB3, URLLIB3_IMPORT_ERROR
from ansible_collections.inferops.kubernetes.plugins.module_utils.warmup.runner import warmup_result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str", required=True),
            protocol=dict(type="str", required=True, choices=["tf_serving", "kserve_v1", "v2", "triton", "torchserve", "raw"]),
            model=dict(type="str"),
            model_version=dict(type="str"),
            payload=dict(type="raw"),
            method=dict(type="str", default="POST", choices=["GET", "POST", "PUT"]),
            path=dict(type="str"),
            headers=dict(type="dict", default={}),
            secret_headers=dict(type="dict", default={}, no_log=True),
            validate_certs=dict(type="bool", default=True),
            ca_path=dict(type="path"),
            client_cert=dict(type="path"),
            client_key=dict(type="path", no_log=False),
            timeout=dict(type="float", default=30.0),
            settle_count=dict(type="int", default=5),
            settle_tolerance=dict(type="float", default=10.0),
            max_requests=dict(type="int", default=100),
            max_time=dict(type="float", default=120.0),
            max_errors=dict(type="int", default=3),
            fail_if_unsettled=dict(type="bool", default=False),
        ),
        required_if=[("protocol", "raw", ("path",))],
        required_by={"client_key": ("client_cert",)},
        supports_check_mode=True,
    )
    if not HAS_URLLIB3:
        module.fail_json(msg=missing_required_lib("urllib3"), exception=URLLIB3_IMPORT_ERROR)
    run_module(module, lambda: warmup_result(module))


if __name__ == "__main__":
    main()
