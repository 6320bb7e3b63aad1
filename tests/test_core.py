"""The domain's pure parts: names, answers, keys and in-memory limits."""

from __future__ import annotations

import asyncio
import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.core.errors import InvalidRequest
from bot.core.keys import display_prefix, generate_key, hash_key, looks_like_key
from bot.core.limits import FailureLimiter, KeyedLocks
from bot.core.models import Answer, Button, Question
from bot.core.ports import LimitFacts, MemberInfo
from bot.core.quotas import standing, whole_seconds_until
from bot.core.tickets import Limits, channel_name, check_answers
from tests.conftest import FakeClock

MEMBER = MemberInfo(user_id=1, username="Bob Smith!!")


@pytest.mark.parametrize(
    ("pattern", "number", "expected"),
    [
        ("ticket-{number}", 7, "ticket-0007"),
        ("{user}-help", 12, "bob-smith-help"),
        ("Support Ticket {number}", 10000, "support-ticket-10000"),
        ("💬💬", 3, "ticket-0003"),
        ("x" * 150, 1, "x" * 100),
    ],
)
def test_channel_names_follow_discords_rules(pattern: str, number: int, expected: str) -> None:
    assert channel_name(pattern, number, MEMBER) == expected


BUTTON = Button(
    button_id="btn_a",
    panel_id="pnl_a",
    label="A",
    questions=(
        Question("q1", "Order number", max_length=10),
        Question("q2", "Anything else?", required=False, min_length=3),
    ),
)


def test_answers_are_matched_by_label_and_put_in_question_order() -> None:
    given = [Answer("anything else? ", "Yes please"), Answer("ORDER NUMBER", " 1042 ")]
    assert check_answers(BUTTON, given) == (
        Answer("Order number", "1042"),
        Answer("Anything else?", "Yes please"),
    )
    # An optional question left empty is simply not shown.
    assert check_answers(BUTTON, [Answer("Order number", "1")]) == (Answer("Order number", "1"),)


@pytest.mark.parametrize(
    ("answers", "code", "field"),
    [
        ([], "missing_answer", "answers"),
        ([Answer("Order number", "   ")], "missing_answer", "answers"),
        ([Answer("Order", "1")], "unknown_question", "answers[0].label"),
        (
            [Answer("Order number", "1"), Answer("order number", "2")],
            "duplicate_answer",
            "answers[1].label",
        ),
        ([Answer("Order number", "12345678901")], "invalid_answer", "answers"),
        (
            [Answer("Order number", "1"), Answer("Anything else?", "no")],
            "invalid_answer",
            "answers",
        ),
    ],
)
def test_answers_that_do_not_fit_are_refused(answers: list[Answer], code: str, field: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        check_answers(BUTTON, answers)
    assert (refused.value.code, refused.value.field) == (code, field)


def test_keys_are_random_shaped_and_only_hashed() -> None:
    key, other = generate_key(), generate_key()
    assert key != other
    assert looks_like_key(key)
    assert not looks_like_key(key[:-1])
    assert not looks_like_key("rmp_" + "!" * 43)
    assert len(hash_key(key)) == 64
    assert hash_key(key) != hash_key(other)
    assert display_prefix(key) == key[:12] + "…"


def test_failure_limiter_blocks_after_the_limit_for_the_rest_of_the_window() -> None:
    clock = FakeClock(0)
    limiter = FailureLimiter(3, 60, clock, max_keys=2)
    for _ in range(3):
        assert limiter.retry_after("a") is None
        limiter.record_failure("a")
        clock.advance(1)
    assert limiter.retry_after("a") == pytest.approx(57)
    assert limiter.retry_after("b") is None
    clock.advance(57)
    assert limiter.retry_after("a") is None
    # Memory stays bounded: the stalest key is forgotten first.
    for key in ("a", "b", "c"):
        limiter.record_failure(key)
    assert limiter.retry_after("a") is None
    assert set(limiter._failures) == {"b", "c"}


@pytest.mark.asyncio
async def test_keyed_locks_serialize_one_key_and_forget_it_afterwards() -> None:
    locks = KeyedLocks()
    order: list[str] = []

    async def work(key: str, name: str) -> None:
        async with locks.hold(key):
            order.append(f"{name}+")
            await asyncio.sleep(0.01)
            order.append(f"{name}-")

    await asyncio.gather(work("k", "a"), work("k", "b"), work("other", "c"))
    assert order.index("a-") < order.index("b+")
    assert len(locks) == 0


# -- How long a refusal's numbers hold (what a refusal kept in memory rests on) --------------------

_NOW = st.floats(1_700_000_000.0, 1_900_000_000.0)
_AHEAD = st.floats(0.0, 200.0, exclude_min=True)


@settings(max_examples=300, deadline=None)
@given(now=_NOW, ahead=_AHEAD, steps=st.lists(st.floats(0.0, 1.0, exclude_max=True), max_size=8))
def test_a_wait_in_whole_seconds_holds_until_it_ticks(
    now: float, ahead: float, steps: list[float]
) -> None:
    deadline = now + ahead
    assume(deadline > now)  # an `ahead` below the clock's resolution is no wait at all
    told = math.ceil(deadline - now)
    until = whole_seconds_until(deadline, now)
    assert now < until <= deadline
    for step in steps:  # never kept past the moment it changes
        at = min(now + (until - now) * step, math.nextafter(until, now))
        assert math.ceil(deadline - at) == told
    assert math.ceil(deadline - until) == told - 1


@settings(max_examples=300, deadline=None)
@given(
    now=_NOW,
    cooldown=st.sampled_from([0.0, 1.0, 20.0, 45.5]),
    opened=st.integers(0, 40),
    oldest_age=st.floats(0.0, 60.0, exclude_max=True),
    last_age=st.one_of(st.none(), st.floats(0.0, 120.0)),
    user=st.sampled_from([None, 7]),
    steps=st.lists(st.floats(0.0, 1.0, exclude_max=True), max_size=8),
)
def test_the_quotas_hold_until_the_moment_they_say(
    now: float,
    cooldown: float,
    opened: int,
    oldest_age: float,
    last_age: float | None,
    user: int | None,
    steps: list[float],
) -> None:
    limits = Limits(server_per_minute=30, user_cooldown=cooldown, window=60.0)
    oldest = now - oldest_age if opened else None
    assume(oldest is None or oldest + limits.window > now)  # it is in the window at `now`
    last = now - last_age if last_age is not None else None
    facts = LimitFacts(False, (), None, opened, oldest, last)
    first = standing(limits, facts, now, user)
    if first.until == math.inf:  # nothing in them counts down: they hold until something commits
        assert standing(limits, facts, now + 10_000.0, user).quotas == first.quotas
        return
    assert first.until > now
    for step in steps:
        at = min(now + (first.until - now) * step, math.nextafter(first.until, now))
        assert standing(limits, facts, at, user).quotas == first.quotas
    assert standing(limits, facts, first.until, user).quotas != first.quotas
