# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One keep-alive HTTP(S) connection pool for timed inference requests.

urllib3 (already installed with the kubernetes client) keeps the connection open between requests,
so a warm latency measures the server, not a new TCP and TLS handshake per request.
"""

from __future__ import annotations

import time
import traceback
from typing import Any, Dict, Optional

try:
    import urllib3
except ImportError:  # reported by the module through missing_required_lib
    urllib3 = None
    HAS_URLLIB3 = False
    URLLIB3_IMPORT_ERROR: Optional[str] = traceback.format_exc()
else:
    HAS_URLLIB3 = True
    URLLIB3_IMPORT_ERROR = None


class Session:
    """Sends requests to one base URL and times each one, body read included."""

    def __init__(self, base_url, timeout=30.0, validate_certs=True, ca_path=None, client_cert=None, client_key=None,
                 headers=None, clock=time.perf_counter):
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers or {})
        self._clock = clock
        self._timeout = urllib3.Timeout(total=timeout)
        options: Dict[str, Any] = {"maxsize": 1, "retries": False, "timeout": self._timeout}
        if self.base_url.startswith("https://"):
            options["cert_reqs"] = "CERT_REQUIRED" if validate_certs else "CERT_NONE"
            if not validate_certs:
                options["assert_hostname"] = False
                # The user turned verification off on purpose; urllib3's warning would only repeat that per request.
                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            if ca_path:
                options["ca_certs"] = ca_path
            if client_cert:
                options["cert_file"] = client_cert
                options["key_file"] = client_key
        self._pool = urllib3.PoolManager(num_pools=1, **options)

    def send(self, method, path, body=b"", headers=None):
        """Return {"status": int or None, "latency_ms": float, "body": str excerpt, "error": str or None}."""
        merged = dict(self.headers)
        merged.update(headers or {})
        start = self._clock()
        try:
            response = self._pool.request(method, self.base_url + path, body=body or None, headers=merged,
                                          preload_content=True, redirect=False)
        except urllib3.exceptions.HTTPError as exc:
            return {"status": None, "latency_ms": (self._clock() - start) * 1000.0, "body": "", "error": _reason(exc)}
        latency = (self._clock() - start) * 1000.0
        return {"status": response.status, "latency_ms": latency,
                "body": response.data[:300].decode("utf-8", "replace"), "error": None}

    def close(self):
        self._pool.clear()


def _reason(exc):
    reason = getattr(exc, "reason", None)
    return "%s: %s" % (type(exc).__name__, reason or exc)
