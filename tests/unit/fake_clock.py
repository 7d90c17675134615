"""A clock for waits under test: monotonic() and sleep() of a clock that only moves when slept on."""

from __future__ import annotations


class Clock:
    def __init__(self, start=100.0):
        self.now = start
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds
