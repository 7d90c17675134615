"""The settling rule and latency statistics of the warmup loop, with scripted latencies."""

from __future__ import annotations

import pytest

from ansible_collections.inferops.kubernetes.plugins.module_utils.inference.warmup import median, percentile, run_warmup


def scripted(*answers):
    """send() returning each answer in turn: a latency in ms (status 200) or ("status", code)."""
    queue = list(answers)

    def send():
        answer = queue.pop(0)
        if isinstance(answer, tuple):
            return {"status": answer[1], "latency_ms": 1.0, "body": "boom", "error": None if answer[1] else "refused"}
        return {"status": 200, "latency_ms": float(answer), "body": "", "error": None}

    return send


def test_settles_after_n_consecutive_requests_near_the_running_median():
    # cold 500; warm: 50 (median 50: in, streak 1), 20 (median 35: out), 10 (median 20: out),
    # 10 (median 15: out), then 10, 10, 10 (median 10: in, in, in)
    report = run_warmup(scripted(500, 50, 20, 10, 10, 10, 10, 10, 99), settle_count=3, tolerance_pct=10)
    assert report["settled"] is True and report["requests_sent"] == 8
    assert report["cold_latency_ms"] == 500 and report["warm_latency_ms"] == {"median": 10, "p90": 10, "window": 3}
    assert report["cold_to_warm_ratio"] == 50 and report["latencies_ms"] == [500, 50, 20, 10, 10, 10, 10, 10]


def test_an_outlier_restarts_the_count():
    report = run_warmup(scripted(100, 10, 10, 30, 10, 10, 10), settle_count=3, tolerance_pct=10)
    assert report["settled"] is True and report["requests_sent"] == 7


def test_limits_end_an_unsettled_warmup():
    report = run_warmup(scripted(*[100, 10, 30] * 10), settle_count=3, tolerance_pct=5, max_requests=6)
    assert report["settled"] is False and report["requests_sent"] == 6
    assert report["reason"] == "max_requests (6) reached before latency settled"
    assert report["warm_latency_ms"]["window"] == 5

    ticks = iter(range(0, 1000, 10))
    report = run_warmup(scripted(*[100, 10, 30] * 10), settle_count=3, max_time_s=25, clock=lambda: next(ticks))
    assert report["settled"] is False and report["reason"].startswith("max_time (25.0s)")


def test_failed_requests_break_the_streak_and_end_the_warmup_past_max_errors():
    report = run_warmup(scripted(100, 10, ("status", 503), 10, 10, 10), settle_count=3, max_errors=1)
    assert report["settled"] is True and report["errors"] == 1 and report["requests_sent"] == 6
    report = run_warmup(scripted(("status", None), ("status", 500), ("status", 500)), max_errors=1)
    assert report["settled"] is False and report["cold_latency_ms"] is None and report["requests_sent"] == 2
    assert [e["status"] for e in report["error_details"]] == [None, 500]


@pytest.mark.parametrize("values,med,p90", [([3], 3, 3), ([1, 2, 3, 4], 2.5, 4), (list(range(1, 11)), 5.5, 9)])
def test_median_and_nearest_rank_p90(values, med, p90):
    assert median(values) == med and percentile(values, 90) == p90
