"""Push: batching by encoded size, splitting on refusals, outcomes on the outbox."""

from __future__ import annotations

import json

from edge_service.outbox import PendingChange
from edge_service.pusher import BatchLimits, Envelope, pack
from tests.edge_service.conftest import Edge
from tests.edge_service.helpers import (
    change_ids,
    create,
    outbox_states,
    query,
    sync_until_drained,
)

MiB = 1024 * 1024
# 30,000 Cyrillic letters: 60,000 bytes of UTF-8, under the 64 KiB limit.
CYRILLIC = "д" * 30_000


def _compact(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def test_envelope_matches_json_encoding() -> None:
    """The body built around stored payloads is the compact JSON of a PushBatch."""
    changes = [
        PendingChange(n, f"id-{n}", "r", _compact({"n": n, "t": "ж"})) for n in range(3)
    ]
    envelope = Envelope("edge-a")

    body = envelope.encode(changes)

    expected = json.dumps(
        {"edge_id": "edge-a", "changes": [{"n": n, "t": "ж"} for n in range(3)]},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    assert body == expected
    assert envelope.size(sum(len(c.payload) for c in changes), 3) == len(body)


def test_pack_respects_count_and_size() -> None:
    """Batches never exceed the count or byte limit; oversized changes are set aside."""
    changes = [PendingChange(n, str(n), "r", b"x" * 100) for n in range(10)]
    changes.append(PendingChange(10, "big", "r", b"x" * 1000))
    envelope = Envelope("edge-a")
    limits = BatchLimits(changes=3, body_bytes=envelope.size(250, 2))

    batches, too_large = pack(changes, envelope, limits)

    assert [len(b) for b in batches] == [2, 2, 2, 2, 2]
    assert [c.change_id for c in too_large] == ["big"]


async def test_bc12_large_utf8_changes_split_under_body_limit(edge: Edge) -> None:
    """120 changes of ~60 KB of Cyrillic go out in bodies of at most 4 MiB (BC-12)."""
    for n in range(120):
        await create(edge, f"r-{n}", content=CYRILLIC)

    await sync_until_drained(edge)

    assert max(edge.cloud.bodies) <= 4 * MiB
    # Sent as UTF-8 (2 bytes a letter), 7.2 MB fit in two bodies; as \u
    # escapes (6 bytes a letter) they would need six.
    assert len(edge.cloud.bodies) == 2
    assert set((await outbox_states(edge)).values()) == {"applied"}


async def test_bc12_change_too_large_is_held_rest_go_through(edge: Edge) -> None:
    """With a 32 KiB limit the 60 KB change is held, with a reason (BC-12)."""
    edge.cloud.max_body_bytes = 32 * 1024
    await create(edge, "small-1")
    await create(edge, "big", content=CYRILLIC)
    await create(edge, "small-2")

    status = await sync_until_drained(edge)

    assert max(edge.cloud.bodies) <= 32 * 1024
    assert await outbox_states(edge) == {
        "small-1#1": "applied",
        "big#2": "held",
        "small-2#3": "applied",
    }
    assert status["held"] == 1
    assert "too large" in status["recent_held"][0]["reason"]


async def test_held_change_goes_out_once_the_limit_allows(edge: Edge) -> None:
    """When the cloud raises its body limit, a held change is sent and applied."""
    edge.cloud.max_body_bytes = 32 * 1024
    await create(edge, "big", content=CYRILLIC)
    await sync_until_drained(edge)
    edge.cloud.max_body_bytes = 4 * 1024 * 1024

    status = await sync_until_drained(edge)

    assert await outbox_states(edge) == {"big#1": "applied"}
    assert status["held"] == 0


async def test_rejected_change_is_final_and_rest_go_through(edge: Edge) -> None:
    """A per-change rejected is recorded, shown, never resent; the others apply."""
    for n in range(3):
        await create(edge, f"r-{n}")
    rejected_id = (await change_ids(edge))[1]
    edge.cloud.reject_ids.add(rejected_id)

    status = await sync_until_drained(edge)
    await create(edge, "r-3")
    await sync_until_drained(edge)

    assert await outbox_states(edge) == {
        "r-0#1": "applied",
        "r-1#2": "rejected",
        "r-2#3": "applied",
        "r-3#4": "applied",
    }
    assert edge.cloud.received.count(rejected_id) == 1
    assert status["rejected"] == 1
    assert status["recent_rejected"][0]["reason"] == "above the edge's clearance"
    report = (await edge.client.get("/reports/r-1")).json()
    assert report["sync_state"] == "rejected"


async def test_rejected_edit_restores_cloud_version(edge: Edge) -> None:
    """A rejected edit with no later change puts back the last cloud version."""
    await create(edge, "r-1", title="approved")
    await sync_until_drained(edge)
    await edge.client.patch("/reports/r-1", json={"title": "refused"})
    edge.cloud.reject_ids.add((await change_ids(edge))[1])

    await sync_until_drained(edge)

    report = (await edge.client.get("/reports/r-1")).json()
    assert (report["title"], report["clock"]) == ("approved", {"edge-a": 1})
    assert report["sync_state"] == "synced"


async def test_whole_batch_400_is_split_to_isolate_culprit(edge: Edge) -> None:
    """A whole-batch 400 is split down to the one change at fault, marked rejected."""
    for n in range(6):
        await create(edge, f"r-{n}")
    culprit = (await change_ids(edge))[2]
    edge.cloud.poison_ids.add(culprit)

    await sync_until_drained(edge)

    states = await outbox_states(edge)
    assert states.pop("r-2#3") == "rejected"
    assert set(states.values()) == {"applied"}
    rows = await query(edge, "SELECT reason FROM outbox WHERE change_id = ?", culprit)
    assert "cannot read" in rows[0][0]


async def test_413_splits_batch_and_never_resends_same_body(edge: Edge) -> None:
    """A 413 halves the batch; the refused body is not sent again."""
    edge.cloud.max_body_bytes = 100_000
    edge.cloud.advertised_body_bytes = 4 * MiB
    for n in range(4):
        await create(edge, f"r-{n}", content="x" * 30_000)

    await sync_until_drained(edge)

    refused = [size for size in edge.cloud.bodies if size > 100_000]
    assert len(refused) == len(set(refused)) == 1
    assert set((await outbox_states(edge)).values()) == {"applied"}


async def test_transient_failures_are_retried_and_counted(edge: Edge) -> None:
    """
    A 503 and a 429 are retried after backoff; once a run succeeds the status
    no longer shows their error.
    """
    edge.cloud.failures = [(503, {}), (429, {"Retry-After": "0"})]
    await create(edge, "r-1")

    status = await sync_until_drained(edge)

    assert set((await outbox_states(edge)).values()) == {"applied"}
    assert status["last_error"] is None
    assert status["consecutive_failures"] == 0
    rows = await query(edge, "SELECT attempts FROM outbox")
    assert rows[0][0] == 3
