# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Warm an inference endpoint until its latency settles, and report cold and warm latency.

Settled means: ``settle_count`` consecutive successful requests, each within ``tolerance_pct`` percent of
the running median of the warm requests so far (every successful request after the first, cold one).
A failed request breaks the run of consecutive requests; more than ``max_errors`` failures end the warmup.
"""

from __future__ import annotations

import time


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2.0


def percentile(values, pct):
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def _round(value):
    return None if value is None else round(value, 3)


def run_warmup(send, settle_count=5, tolerance_pct=10.0, max_requests=100, max_time_s=120.0, max_errors=3,
               clock=time.monotonic):
    """Call ``send()`` (returning Session.send's dict) until settled or a limit is hit; return the report."""
    start = clock()
    cold = None
    warm = []
    streak = 0
    errors = []
    sent = 0
    reason = None
    while True:
        if sent >= max_requests:
            reason = "max_requests (%d) reached before latency settled" % max_requests
            break
        if sent and clock() - start >= max_time_s:
            reason = "max_time (%.1fs) reached before latency settled" % max_time_s
            break
        result = send()
        sent += 1
        status = result["status"]
        if status is None or not 200 <= status < 300:
            errors.append({"request": sent, "status": status, "error": result.get("error"), "body": result.get("body", "")})
            streak = 0
            if len(errors) > max_errors:
                reason = "more than max_errors (%d) failed requests" % max_errors
                break
            continue
        latency = result["latency_ms"]
        if cold is None:
            cold = latency
            continue
        warm.append(latency)
        running = median(warm)
        if abs(latency - running) <= running * tolerance_pct / 100.0:
            streak += 1
        else:
            streak = 0
        if streak >= settle_count:
            break
    settled = streak >= settle_count
    window = warm[-settle_count:] if settled else warm
    report = {
        "settled": settled,
        "requests_sent": sent,
        "errors": len(errors),
        "error_details": errors[-5:],
        "cold_latency_ms": _round(cold),
        "warm_latency_ms": {"median": _round(median(window)) if window else None,
                            "p90": _round(percentile(window, 90)) if window else None,
                            "window": len(window)},
        "latencies_ms": [_round(value) for value in ([cold] if cold is not None else []) + warm],
        "elapsed_s": round(clock() - start, 3),
        "reason": None if settled else reason,
    }
    if cold is not None and report["warm_latency_ms"]["median"]:
        report["cold_to_warm_ratio"] = round(cold / report["warm_latency_ms"]["median"], 2)
    else:
        report["cold_to_warm_ratio"] = None
    return report
