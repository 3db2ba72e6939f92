"""The batcher of the inbox listeners: every request is answered, also one arriving mid-batch."""

from __future__ import annotations

import asyncio

import pytest

from cpts_app.state import quick_reads
from cpts_app.state.quick_reads import QuickRead, _Batcher


@pytest.fixture
def slow_database(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """``run_service`` replaced by a slow fake; ``_read_one`` answers the request's token."""
    batches: list[list[str]] = []

    async def fake_run_service(work, *, write: bool = False):
        await asyncio.sleep(0.05)
        return work(None)

    def fake_read_one(session, request: QuickRead, memo):
        memo.setdefault("tokens", []).append(request.token)
        if len(memo["tokens"]) == 1:
            batches.append(memo["tokens"])
        return request.token

    monkeypatch.setattr(quick_reads, "run_service", fake_run_service)
    monkeypatch.setattr(quick_reads, "_read_one", fake_read_one)
    return batches


def _request(token: str) -> QuickRead:
    return QuickRead(token, None, thread_id=1, after_id=0, window_start=0, audited=False)


async def test_requests_of_the_same_tick_share_one_transaction(slow_database: list[list[str]]) -> None:
    batcher = _Batcher()
    answers = await asyncio.gather(*(batcher.read(_request(f"t{i}")) for i in range(5)))
    assert answers == ["t0", "t1", "t2", "t3", "t4"]
    assert slow_database == [["t0", "t1", "t2", "t3", "t4"]]


async def test_a_request_arriving_while_a_batch_runs_is_served_by_the_next(
    slow_database: list[list[str]],
) -> None:
    batcher = _Batcher()
    first = asyncio.create_task(batcher.read(_request("early")))
    await asyncio.sleep(0.02)  # the first batch is in the database now
    late = await asyncio.wait_for(batcher.read(_request("late")), 2)
    assert late == "late" and await first == "early"
    assert slow_database == [["early"], ["late"]]


async def test_a_failed_batch_fails_its_requests_only(monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(work, *, write: bool = False):
        raise RuntimeError("base indisponible")

    monkeypatch.setattr(quick_reads, "run_service", broken)
    batcher = _Batcher()
    with pytest.raises(RuntimeError):
        await batcher.read(_request("a"))

    async def working(work, *, write: bool = False):
        return ["b"]

    monkeypatch.setattr(quick_reads, "run_service", working)
    assert await batcher.read(_request("b")) == "b"
