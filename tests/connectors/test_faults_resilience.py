"""Backoff and circuit breaker state machines, driven by a fake clock (no sleeping)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.resilience import Backoff, BreakerState, CircuitBreaker


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_backoff_doubles_up_to_the_cap_and_resets() -> None:
    clock = FakeClock()
    backoff = Backoff(initial_s=0.5, max_s=4.0, clock=clock)
    delays = [backoff.failed() for _ in range(6)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert not backoff.ready()
    assert backoff.wait_s() == pytest.approx(4.0)
    clock.now += 4.0
    assert backoff.ready()
    backoff.succeeded()
    assert backoff.failed() == 0.5


@given(
    initial=st.floats(0.01, 5),
    cap_factor=st.floats(1, 100),
    jitter=st.floats(0, 0.5),
    failures=st.integers(1, 40),
)
def test_backoff_delay_never_exceeds_cap_plus_jitter(
    initial: float, cap_factor: float, jitter: float, failures: int
) -> None:
    backoff = Backoff(
        initial_s=initial,
        max_s=initial * cap_factor,
        jitter_frac=jitter,
        clock=FakeClock(),
        rng=random.Random(1),
    )
    for _ in range(failures):
        delay = backoff.failed()
        assert 0 < delay <= initial * cap_factor * (1 + jitter) + 1e-9


def test_backoff_rejects_nonsense_parameters() -> None:
    with pytest.raises(ValueError, match="initial_s"):
        Backoff(initial_s=0)
    with pytest.raises(ValueError, match="jitter_frac"):
        Backoff(jitter_frac=1.5)


def test_breaker_opens_after_threshold_and_refuses_until_cooldown() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=3, open_s=10, open_max_s=40, clock=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()
    clock.now += 9.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.allow()
    assert breaker.state is BreakerState.HALF_OPEN
    assert not breaker.allow(), "half-open lets exactly one trial through"


def test_failed_trial_reopens_with_doubled_open_time_up_to_max() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, open_s=10, open_max_s=25, clock=clock)
    breaker.record_failure()
    expected_open = [20.0, 25.0, 25.0]
    for open_s in expected_open:
        clock.now += breaker.retry_in_s()
        assert breaker.allow()
        breaker.record_failure()
        assert breaker.state is BreakerState.OPEN
        assert breaker.retry_in_s() == pytest.approx(open_s)


def test_successful_trial_closes_and_resets() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=2, open_s=5, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    clock.now += 5
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.failures == 0
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED, "threshold counts again from zero"
    assert breaker.trips == 1
