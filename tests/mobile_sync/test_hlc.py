"""The hybrid logical clock: the one order every laptop and the server agree on."""

from __future__ import annotations

import itertools
import random
import sys
import threading

import pytest

from mobile_sync.hlc import (
    MAX_COUNTER,
    MAX_DRIFT_MS,
    ClockDrift,
    HybridClock,
    Timestamp,
    order_key,
)

DAY_MS = 24 * 60 * 60 * 1000
T0 = 1_700_000_000_000


class FakeTime:
    """A physical clock the test moves by hand (frozen, forward, backwards)."""

    def __init__(self, ms: int = T0) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


def make_clock(node: str = "bus1", ms: int = T0, **kwargs) -> tuple[HybridClock, FakeTime]:
    fake = FakeTime(ms)
    return HybridClock(node, physical_ms=fake, **kwargs), fake


# --- now(): monotonic whatever the physical clock does ---


def test_now_follows_physical_time_when_it_moves_forward() -> None:
    clock, fake = make_clock()
    assert clock.now() == Timestamp(T0, 0, "bus1")
    fake.ms += 7
    assert clock.now() == Timestamp(T0 + 7, 0, "bus1")


def test_now_is_strictly_increasing_with_a_frozen_physical_clock() -> None:
    """A frozen clock (same millisecond) must still give distinct, ordered stamps via the counter."""
    clock, _ = make_clock()
    stamps = [clock.now() for _ in range(1000)]
    assert all(a < b for a, b in itertools.pairwise(stamps))
    assert {s.wall_ms for s in stamps} == {T0}
    assert [s.counter for s in stamps] == list(range(1000))


def test_now_never_goes_back_when_the_physical_clock_is_set_back_a_day() -> None:
    """Someone sets the laptop clock back a day: stamps keep increasing from the last one."""
    clock, fake = make_clock()
    before = clock.now()
    fake.ms -= DAY_MS
    after = [clock.now() for _ in range(5)]
    assert all(s > before for s in after)
    assert all(a < b for a, b in itertools.pairwise(after))
    assert {s.wall_ms for s in after} == {T0}
    fake.ms = T0 + 1
    assert clock.now() == Timestamp(T0 + 1, 0, "bus1")


def test_now_continues_after_a_restored_last_stamp() -> None:
    """A restarted laptop restores its last stamp; it must not reissue one below it."""
    restored = Timestamp(T0 + DAY_MS, 42, "bus1")
    clock, _ = make_clock(last=restored)
    assert clock.last() == restored
    assert clock.now() == Timestamp(T0 + DAY_MS, 43, "bus1")


def test_counter_overflow_rolls_to_the_next_millisecond() -> None:
    clock, _ = make_clock(last=Timestamp(T0, MAX_COUNTER - 1, "bus1"))
    assert clock.now() == Timestamp(T0, MAX_COUNTER, "bus1")
    rolled = clock.now()
    assert rolled == Timestamp(T0 + 1, 0, "bus1")
    assert clock.now() == Timestamp(T0 + 1, 1, "bus1")
    assert Timestamp.parse(rolled.encode()) == rolled


def test_last_is_the_latest_issued_stamp() -> None:
    clock, _ = make_clock()
    assert clock.last() == Timestamp(0, 0, "bus1")
    issued = clock.now()
    assert clock.last() == issued


def test_invalid_node_is_refused() -> None:
    for node in ("", "a b", "nœud", "x" * 65, "a/b"):
        with pytest.raises(ValueError, match="nœud"):
            HybridClock(node, physical_ms=FakeTime())
    assert HybridClock("x" * 64, physical_ms=FakeTime()).node == "x" * 64


def test_now_is_thread_safe() -> None:
    """Several threads on one clock: every stamp unique, each thread's stamps increasing."""
    clock, _ = make_clock()  # frozen: every call races on the counter
    per_thread: list[list[Timestamp]] = [[] for _ in range(8)]

    def work(index: int) -> None:
        for _ in range(3000):
            per_thread[index].append(clock.now())

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(old)
    everything = [s for stamps in per_thread for s in stamps]
    assert len(set(everything)) == len(everything) == 8 * 3000
    for stamps in per_thread:
        assert all(a < b for a, b in itertools.pairwise(stamps))
    assert clock.last() == max(everything)


# --- observe(): move past what we receive, but not past a clock from the future ---


def test_observe_moves_past_a_remote_stamp_ahead_of_us() -> None:
    clock, _ = make_clock()
    clock.now()
    remote = Timestamp(T0 + 1000, 5, "serveur")
    seen = clock.observe(remote)
    assert seen > remote
    assert seen == Timestamp(T0 + 1000, 6, "bus1")
    assert clock.now() > remote


def test_observe_accepts_the_text_form() -> None:
    clock, _ = make_clock()
    assert clock.observe(Timestamp(T0 + 10, 3, "serveur").encode()) == Timestamp(T0 + 10, 4, "bus1")


def test_observe_of_an_older_remote_still_advances_the_clock() -> None:
    clock, _ = make_clock()
    mine = clock.now()
    seen = clock.observe(Timestamp(T0 - 5000, 99, "serveur"))
    assert seen > mine
    assert seen == Timestamp(T0, 1, "bus1")


def test_observe_with_equal_wall_takes_the_larger_counter() -> None:
    clock, _ = make_clock(last=Timestamp(T0, 10, "bus1"))
    assert clock.observe(Timestamp(T0, 3, "serveur")) == Timestamp(T0, 11, "bus1")
    assert clock.observe(Timestamp(T0, 50, "serveur")) == Timestamp(T0, 51, "bus1")


def test_observe_when_physical_time_is_ahead_of_both() -> None:
    clock, _fake = make_clock(last=Timestamp(T0 - 10, 7, "bus1"))
    assert clock.observe(Timestamp(T0 - 5, 9, "serveur")) == Timestamp(T0, 0, "bus1")


def test_observe_of_a_remote_at_max_counter_rolls_over() -> None:
    clock, _ = make_clock()
    seen = clock.observe(Timestamp(T0, MAX_COUNTER, "serveur"))
    assert seen == Timestamp(T0 + 1, 0, "bus1")
    assert seen > Timestamp(T0, MAX_COUNTER, "serveur")


def test_observe_accepts_a_remote_exactly_max_drift_ahead() -> None:
    clock, _ = make_clock()
    remote = Timestamp(T0 + MAX_DRIFT_MS, 0, "serveur")
    assert clock.observe(remote) > remote


def test_observe_refuses_a_remote_more_than_max_drift_ahead() -> None:
    """A peer a day ahead would drag our clock a day forward for good: refused, clock untouched."""
    clock, _ = make_clock()
    before = clock.now()
    for ahead in (MAX_DRIFT_MS + 1, DAY_MS):
        with pytest.raises(ClockDrift) as caught:
            clock.observe(Timestamp(T0 + ahead, 0, "serveur"))
        assert isinstance(caught.value, ValueError)
        assert caught.value.message == str(caught.value)
        assert "Horloge distante trop en avance" in caught.value.message
        assert "refusé" in caught.value.message
    assert clock.last() == before


def test_observe_drift_check_uses_the_corrected_physical_time() -> None:
    """With the server offset applied, "ahead" is measured against server time, not the bad local clock."""
    clock, _ = make_clock(ms=T0 - DAY_MS, offset_ms=DAY_MS)
    assert clock.observe(Timestamp(T0 + MAX_DRIFT_MS, 0, "serveur")).wall_ms == T0 + MAX_DRIFT_MS
    with pytest.raises(ClockDrift):
        clock.observe(Timestamp(T0 + 2 * MAX_DRIFT_MS + 1, 0, "serveur"))


def test_observe_without_limit_accepts_anything() -> None:
    clock, _ = make_clock()
    remote = Timestamp(T0 + DAY_MS, 0, "serveur")
    assert clock.observe(remote, max_ahead_ms=None) > remote


# --- set_offset(): a laptop clock a day off reads server time ---


def test_set_offset_makes_physical_time_read_the_server_time() -> None:
    clock, fake = make_clock(ms=T0 + DAY_MS)  # laptop clock one day ahead
    assert clock.set_offset(T0) == -DAY_MS
    assert clock.offset_ms == -DAY_MS
    assert clock.physical_ms() == T0
    fake.ms += 250
    assert clock.physical_ms() == T0 + 250
    assert clock.now() == Timestamp(T0 + 250, 0, "bus1")


def test_set_offset_with_an_explicit_local_reading() -> None:
    """The local time of the request, not of the call, pairs with the server time it got back."""
    clock, _fake = make_clock(ms=T0 - DAY_MS + 40)
    assert clock.set_offset(T0, local_ms=T0 - DAY_MS) == DAY_MS
    assert clock.physical_ms() == T0 + 40


def test_set_offset_does_not_make_the_clock_go_backwards() -> None:
    """Stamps issued a day ahead before the correction stay below every later stamp."""
    clock, _ = make_clock(ms=T0 + DAY_MS)
    ahead = clock.now()
    clock.set_offset(T0)
    assert clock.now() > ahead


# --- the text form ---


def _random_node(rng: random.Random) -> str:
    alphabet = "ab-_.:Z09"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6)))


def test_encode_sorts_like_the_timestamps() -> None:
    """Stored and indexed as text, so text order must equal (wall, counter, node) order."""
    rng = random.Random(20240611)
    for _ in range(200):
        stamps = [
            Timestamp(
                rng.choice([0, 1, T0, T0 + 1, 10**15 - 1, rng.randint(0, 10**15 - 1)]),
                rng.choice([0, 1, 9, 10, MAX_COUNTER, rng.randint(0, MAX_COUNTER)]),
                _random_node(rng),
            )
            for _ in range(30)
        ]
        assert sorted(stamps, key=Timestamp.encode) == sorted(stamps)
        for a, b in itertools.pairwise(stamps):
            assert (a.encode() < b.encode()) == (a < b)
            assert (a.encode() == b.encode()) == (a == b)


def test_encode_parse_round_trip() -> None:
    rng = random.Random(7)
    for _ in range(500):
        stamp = Timestamp(rng.randint(0, 10**15 - 1), rng.randint(0, MAX_COUNTER), _random_node(rng))
        text = stamp.encode()
        assert Timestamp.parse(text) == stamp
        assert Timestamp.parse(text).encode() == text
    assert Timestamp(T0, 3, "bus1").encode() == "001700000000000-000003-bus1"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "n'importe quoi",
        "001700000000000-000003",
        "001700000000000-000003-",
        "1700000000000-000003-bus1",
        "0001700000000000-000003-bus1",
        "001700000000000-3-bus1",
        "001700000000000-0000003-bus1",
        "001700000000000_000003_bus1",
        "001700000000000-000003-bus 1",
        "001700000000000-000003-nœud",
        "001700000000000-000003-" + "x" * 65,
        " 001700000000000-000003-bus1",
        "001700000000000-000003-bus1 ",
        "001700000000000-000003-bus1\n",
        "-00000000000005-000003-bus1",
        "١٧٠٠٠٠٠٠٠٠٠٠٠٠٠-000003-bus1",
        None,
        b"001700000000000-000003-bus1",
        1700000000000,
    ],
)
def test_parse_rejects_malformed_text(text: object) -> None:
    with pytest.raises(ValueError, match="Horodatage de synchronisation invalide"):
        Timestamp.parse(text)  # type: ignore[arg-type]


# --- clamped() and order_key(): a stamp from the future gains nothing ---


def test_clamped_caps_only_stamps_beyond_the_limit() -> None:
    stamp = Timestamp(T0 + DAY_MS, 12, "bus1")
    assert stamp.clamped(T0) == Timestamp(T0, MAX_COUNTER, "bus1")
    assert stamp.clamped(T0 + DAY_MS) is stamp
    assert stamp.clamped(T0 + DAY_MS + 1) is stamp


def test_clamped_stamp_sorts_below_anything_after_the_limit() -> None:
    capped = Timestamp(T0 + DAY_MS, 0, "zzz").clamped(T0)
    assert capped < Timestamp(T0 + 1, 0, "a")
    assert capped > Timestamp(T0, MAX_COUNTER - 1, "zzz")


def test_order_key_clamps_to_reception_plus_drift() -> None:
    future = Timestamp(T0 + DAY_MS, 4, "bus1").encode()
    assert order_key(future, T0) == Timestamp(T0 + MAX_DRIFT_MS, MAX_COUNTER, "bus1")
    assert order_key(future) == Timestamp(T0 + DAY_MS, 4, "bus1")
    within = Timestamp(T0 + MAX_DRIFT_MS, 4, "bus1")
    assert order_key(within.encode(), T0) == within


def test_order_key_leaves_a_stamp_from_the_past_alone() -> None:
    """A clock a day behind is not corrected by the clamp: it only caps, never raises."""
    past = Timestamp(T0 - DAY_MS, 4, "bus1")
    assert order_key(past.encode(), T0) == past


def test_order_key_rejects_malformed_text() -> None:
    with pytest.raises(ValueError):
        order_key("pas un horodatage", T0)
