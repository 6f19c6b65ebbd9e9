"""Resolving conflicts: keep or fields, the clock rule, and the stale-view guard."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import structlog

from tests.cloud_service.helpers import change, feed, outcomes, push, report

BASE = {"edge-a": 1}
# docs/protocol.md, "Resolution": pointwise max of the siblings, then cloud + 1.
RESOLVED_CLOCK = {"edge-a": 2, "edge-b": 1, "cloud": 1}
REASON = "edge-b saw the site last"


@dataclass(frozen=True)
class Opened:
    """A BC-09 conflict on one report: its id and the two sibling changes."""

    conflict_id: str
    report_id: str
    from_a: dict[str, Any]
    from_b: dict[str, Any]


async def _open(client: httpx.AsyncClient, n: int = 1) -> Opened:
    """
    Open case BC-09's conflict on report r<n>: T0/C0 at {edge-a: 1}, then
    edge-a sets the title T-A, edge-b the title T-B and the content C-B.
    """
    report_id = f"r{n}"
    created = change("edge-a", 2 * n - 1, report_id, title="T0", content="C0")
    from_a = change(
        "edge-a", 2 * n, report_id, base_clock=BASE, title="T-A", content="C0"
    )
    from_b = change(
        "edge-b", n, report_id, base_clock=BASE, title="T-B", content="C-B", minutes=1
    )
    await push(client, "edge-a", created, from_a)
    result = (await push(client, "edge-b", from_b))["results"][0]
    assert result["outcome"] == "conflict"
    return Opened(result["conflict_id"], report_id, from_a, from_b)


async def _etag(client: httpx.AsyncClient, conflict_id: str) -> str:
    """Read the conflict and return its ETag."""
    response = await client.get(f"/conflicts/{conflict_id}")
    assert response.status_code == 200, response.text
    return response.headers["ETag"]


async def _resolve(
    client: httpx.AsyncClient,
    conflict_id: str,
    body: dict[str, Any],
    *,
    etag: str | None = None,
    analyst: str = "resolver-1",
) -> httpx.Response:
    """Resolve with *body*, sending the conflict's current ETag unless given."""
    if etag is None:
        etag = await _etag(client, conflict_id)
    return await client.post(
        f"/conflicts/{conflict_id}/resolve",
        json=body,
        headers={"If-Match": etag, "X-Analyst": analyst},
    )


def _keep(change_: dict[str, Any]) -> dict[str, Any]:
    return {"keep": change_["change_id"], "reason": REASON}


async def test_keep_makes_the_sibling_current_everywhere(
    client: httpx.AsyncClient,
) -> None:
    """Keeping edge-b's sibling makes T-B/C-B current, in history and feed."""
    opened = await _open(client)

    response = await _resolve(client, opened.conflict_id, _keep(opened.from_b))

    assert response.status_code == 200, response.text
    resolved = response.json()
    assert resolved["status"] == "resolved"
    resolution = resolved["resolution"]
    assert resolution["kept_change_id"] == opened.from_b["change_id"]
    assert resolution["resolved_by"] == "resolver-1"
    assert resolution["reason"] == REASON
    assert resolution["clock"] == RESOLVED_CLOCK
    current = await report(client, opened.report_id)
    assert (current["title"], current["content"]) == ("T-B", "C-B")
    assert current["kind"] == "resolved"
    assert current["conflict_id"] is None
    assert current["clock"] == RESOLVED_CLOCK
    last = (await feed(client))[-1]
    assert last["kind"] == "resolved"
    assert last["conflict_id"] is None
    assert last["clock"] == RESOLVED_CLOCK
    assert last["fields"]["title"] == "T-B"
    history = (await client.get(f"/reports/{opened.report_id}/history")).json()
    assert history["versions"][-1]["outcome"] == "resolved"
    assert history["versions"][-1]["author"] == "resolver-1"


async def test_fields_resolution_keeps_absent_fields_current(
    client: httpx.AsyncClient,
) -> None:
    """Giving only a title keeps the provisional content C-B and classification."""
    opened = await _open(client)
    body = {"fields": {"title": "T-final", "classification": "IL4"}, "reason": "x"}

    response = await _resolve(client, opened.conflict_id, body)

    assert response.status_code == 200, response.text
    assert response.json()["resolution"]["kept_change_id"] is None
    current = await report(client, opened.report_id)
    assert current["title"] == "T-final"
    assert current["content"] == "C-B"
    assert current["classification"] == "IL4"
    assert current["deleted"] is False
    assert current["clock"] == RESOLVED_CLOCK


async def test_resolution_clock_covers_a_version_applied_after_provisional(
    client: httpx.AsyncClient,
) -> None:
    """A version after the provisional one is in the max: {a:3, b:1} + cloud."""
    opened = await _open(client)
    provisional = {"edge-a": 2, "edge-b": 1}
    later = change("edge-a", 3, "r1", base_clock=provisional, title="T3")
    assert await outcomes(client, "edge-a", later) == ["applied"]

    response = await _resolve(client, opened.conflict_id, _keep(opened.from_a))

    assert response.json()["resolution"]["clock"] == {
        "edge-a": 3,
        "edge-b": 1,
        "cloud": 1,
    }
    assert (await report(client))["title"] == "T-A"


async def test_resolving_twice_is_409_with_the_existing_resolution(
    client: httpx.AsyncClient,
) -> None:
    """Resolving again is refused, naming who resolved it, when, why, at what clock."""
    opened = await _open(client)
    etag = await _etag(client, opened.conflict_id)
    first = await _resolve(client, opened.conflict_id, _keep(opened.from_b), etag=etag)

    second = await _resolve(
        client, opened.conflict_id, _keep(opened.from_a), etag=etag, analyst="other"
    )

    assert first.status_code == 200
    assert second.status_code == 409
    assert second.headers["content-type"] == "application/problem+json"
    existing = second.json()["resolution"]
    assert existing["resolved_by"] == "resolver-1"
    assert existing["reason"] == REASON
    assert existing["clock"] == RESOLVED_CLOCK
    assert existing["resolved_at"] == first.json()["resolution"]["resolved_at"]
    assert (await report(client))["title"] == "T-B"


async def test_stale_etag_after_third_sibling_is_409_with_the_conflict(
    client: httpx.AsyncClient,
) -> None:
    """A sibling joining after the read makes the ETag stale; the 409 shows all 3."""
    opened = await _open(client)
    etag = await _etag(client, opened.conflict_id)
    third = change("edge-c", 1, "r1", base_clock=BASE, title="T-C", content="C0")
    assert await outcomes(client, "edge-c", third) == ["conflict"]

    response = await _resolve(
        client, opened.conflict_id, _keep(opened.from_b), etag=etag
    )

    assert response.status_code == 409
    problem = response.json()
    assert len(problem["conflict"]["siblings"]) == 3
    assert problem["etag"] == await _etag(client, opened.conflict_id)
    assert problem["etag"] != etag
    assert (await report(client))["kind"] == "provisional"


async def test_stale_etag_after_a_later_change_is_409(
    client: httpx.AsyncClient,
) -> None:
    """
    A change applied after the provisional version, between the resolver's
    read and their POST, makes the ETag stale: keeping a sibling must not undo
    an edit the resolver never saw.
    """
    opened = await _open(client)
    etag = await _etag(client, opened.conflict_id)
    provisional = {"edge-a": 2, "edge-b": 1}
    later = change("edge-a", 3, "r1", base_clock=provisional, title="T3")
    assert await outcomes(client, "edge-a", later) == ["applied"]

    response = await _resolve(
        client, opened.conflict_id, _keep(opened.from_b), etag=etag
    )

    assert response.status_code == 409
    assert response.json()["etag"] == await _etag(client, opened.conflict_id)
    assert (await report(client))["title"] == "T3"


async def test_resolve_without_if_match_is_428(client: httpx.AsyncClient) -> None:
    """A resolution without If-Match is refused before anything changes."""
    opened = await _open(client)

    response = await client.post(
        f"/conflicts/{opened.conflict_id}/resolve",
        json=_keep(opened.from_b),
        headers={"X-Analyst": "resolver-1"},
    )

    assert response.status_code == 428
    assert "If-Match" in response.json()["detail"]
    assert (await report(client))["kind"] == "provisional"


async def test_resolve_unknown_conflict_is_404(client: httpx.AsyncClient) -> None:
    """Resolving a conflict id the cloud never opened is a 404 problem."""
    response = await client.post(
        f"/conflicts/{uuid.uuid4()}/resolve",
        json={"keep": str(uuid.uuid4()), "reason": "r"},
        headers={"If-Match": '"x"', "X-Analyst": "resolver-1"},
    )

    assert response.status_code == 404
    assert response.json()["title"] == "Conflict not found"


@pytest.mark.parametrize(
    "body",
    [
        {"reason": "neither"},
        {"keep": str(uuid.uuid4()), "fields": {"title": "T"}, "reason": "both"},
        {"fields": {"title": "T"}, "reason": ""},
        {"fields": {"title": "T"}, "reason": "x" * 1001},
        {"fields": {"title": "T"}, "reason": "nul\x00"},
        {"fields": {"title": "T"}},
        {"fields": {"owner": "me"}, "reason": "unknown field"},
    ],
    ids=["neither", "both", "empty-reason", "long-reason", "nul", "no-reason", "extra"],
)
async def test_malformed_resolution_is_422(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    """A body without exactly one of keep and fields, or a valid reason, is 422."""
    opened = await _open(client)

    response = await _resolve(client, opened.conflict_id, body)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert (await report(client))["kind"] == "provisional"


async def test_keep_of_a_change_that_is_no_sibling_is_422(
    client: httpx.AsyncClient,
) -> None:
    """Keeping a change id that is not a sibling names the siblings instead."""
    opened = await _open(client)

    response = await _resolve(
        client, opened.conflict_id, {"keep": str(uuid.uuid4()), "reason": "r"}
    )

    assert response.status_code == 422
    assert set(response.json()["siblings"]) == {
        opened.from_a["change_id"],
        opened.from_b["change_id"],
    }


async def test_resolve_without_analyst_is_422(client: httpx.AsyncClient) -> None:
    """Every resolution names its resolver: no X-Analyst header, no resolution."""
    opened = await _open(client)
    etag = await _etag(client, opened.conflict_id)

    response = await client.post(
        f"/conflicts/{opened.conflict_id}/resolve",
        json=_keep(opened.from_b),
        headers={"If-Match": etag},
    )

    assert response.status_code == 422


async def test_change_concurrent_with_resolution_opens_a_new_conflict(
    client: httpx.AsyncClient,
) -> None:
    """An edit of T0 arriving after the resolution conflicts with it anew."""
    opened = await _open(client)
    await _resolve(client, opened.conflict_id, _keep(opened.from_b))
    late = change("edge-c", 1, "r1", base_clock=BASE, title="T-C", content="C0")

    result = (await push(client, "edge-c", late))["results"][0]

    assert result["outcome"] == "conflict"
    assert result["conflict_id"] != opened.conflict_id
    fresh = (await client.get(f"/conflicts/{result['conflict_id']}")).json()
    resolution = (await client.get(f"/conflicts/{opened.conflict_id}")).json()
    origins = {s["origin"]: s for s in fresh["siblings"]}
    assert set(origins) == {"cloud", "edge-c"}
    assert origins["cloud"]["change_id"] == resolution["resolution"]["change_id"]
    assert origins["cloud"]["clock"] == RESOLVED_CLOCK


async def test_change_after_resolution_base_applies(
    client: httpx.AsyncClient,
) -> None:
    """An edit made on top of the resolved version applies and merges nothing."""
    opened = await _open(client)
    await _resolve(client, opened.conflict_id, _keep(opened.from_b))
    edit = change("edge-a", 3, "r1", base_clock=RESOLVED_CLOCK, title="T4")

    assert await outcomes(client, "edge-a", edit) == ["applied"]

    assert (await report(client))["clock"] == {"edge-a": 3, "edge-b": 1, "cloud": 1}


async def test_change_before_resolution_is_stale(client: httpx.AsyncClient) -> None:
    """A change whose clock the resolution dominates is stale, not a new conflict."""
    opened = await _open(client)
    await _resolve(client, opened.conflict_id, _keep(opened.from_b))
    # edge-a's sibling snapshot again under a new id: clock {edge-a: 2}.
    replayed = change("edge-a", 3, "r1", base_clock=BASE, title="T-A", content="C0")

    assert await outcomes(client, "edge-a", replayed) == ["stale"]

    assert (await report(client))["title"] == "T-B"
    listing = (await client.get("/conflicts", params={"report_id": "r1"})).json()
    assert listing["count"] == 1


async def test_conflict_shows_changed_fields_and_diff(
    client: httpx.AsyncClient,
) -> None:
    """Each sibling lists what it changed vs T0/C0; the diff shows the title 3 ways."""
    opened = await _open(client)

    conflict = (await client.get(f"/conflicts/{opened.conflict_id}")).json()

    siblings = {s["change_id"]: s for s in conflict["siblings"]}
    assert siblings[opened.from_a["change_id"]]["changed_fields"] == ["title"]
    assert siblings[opened.from_b["change_id"]]["changed_fields"] == [
        "title",
        "content",
    ]
    assert conflict["diff"] == [
        {
            "field": "title",
            "base": "T0",
            "values": [
                {
                    "change_id": opened.from_a["change_id"],
                    "value": "T-A",
                    "changed": True,
                },
                {
                    "change_id": opened.from_b["change_id"],
                    "value": "T-B",
                    "changed": True,
                },
            ],
        }
    ]


async def test_merged_sibling_is_named_by_its_change_and_can_be_kept(
    client: httpx.AsyncClient,
) -> None:
    """A merged version that becomes a sibling carries the change that made it."""
    await push(client, "edge-a", change("edge-a", 1, title="T0", content="C0"))
    retitled = change("edge-a", 2, base_clock=BASE, title="T-A", content="C0")
    await push(client, "edge-a", retitled)
    merging = change("edge-b", 1, base_clock=BASE, title="T0", content="C-B")
    assert await outcomes(client, "edge-b", merging) == ["merged"]
    rival = change("edge-c", 1, base_clock=BASE, title="T-C", content="C0")
    conflict_id = (await push(client, "edge-c", rival))["results"][0]["conflict_id"]

    conflict = (await client.get(f"/conflicts/{conflict_id}")).json()
    merged = next(s for s in conflict["siblings"] if s["origin"] == "edge-b")
    response = await _resolve(client, conflict_id, _keep(merging))

    assert merged["change_id"] == merging["change_id"]
    assert (merged["fields"]["title"], merged["fields"]["content"]) == ("T-A", "C-B")
    assert response.status_code == 200, response.text
    assert ((await report(client))["title"], (await report(client))["content"]) == (
        "T-A",
        "C-B",
    )


async def test_list_filters_by_edge_and_pages(client: httpx.AsyncClient) -> None:
    """The edge_id filter finds conflicts with a sibling from that edge, in pages."""
    for n in (1, 2, 3):
        await _open(client, n)
    third = change("edge-c", 1, "r2", base_clock=BASE, title="T-C", content="C0")
    await push(client, "edge-c", third)

    from_c = (await client.get("/conflicts", params={"edge_id": "edge-c"})).json()
    from_b = (
        await client.get("/conflicts", params={"edge_id": "edge-b", "limit": 2})
    ).json()
    rest = (
        await client.get(
            "/conflicts", params={"edge_id": "edge-b", "limit": 2, "offset": 2}
        )
    ).json()
    nobody = (await client.get("/conflicts", params={"edge_id": "edge-z"})).json()
    bad = await client.get("/conflicts", params={"edge_id": "Edge C"})

    assert [c["report_id"] for c in from_c["conflicts"]] == ["r2"]
    assert from_c["count"] == 1
    assert from_b["count"] == 3
    assert len(from_b["conflicts"]) == 2
    assert [c["report_id"] for c in rest["conflicts"]] == ["r3"]
    assert nobody["count"] == 0
    assert bad.status_code == 422


async def test_resolution_is_logged_without_report_content(
    client: httpx.AsyncClient,
) -> None:
    """conflict_resolved names conflict, report and resolver, and no field value."""
    opened = await _open(client)

    with structlog.testing.capture_logs() as logs:
        await _resolve(client, opened.conflict_id, _keep(opened.from_b))

    (event,) = [e for e in logs if e["event"] == "conflict_resolved"]
    assert event["conflict_id"] == opened.conflict_id
    assert event["report_id"] == "r1"
    assert event["resolver"] == "resolver-1"
    logged = repr(event)
    for content in ("T-B", "C-B", REASON):
        assert content not in logged


async def _race(client: httpx.AsyncClient, n: int) -> None:
    """Race a resolution of r<n>'s conflict against a concurrent edit of it."""
    opened = await _open(client, n)
    etag = await _etag(client, opened.conflict_id)
    edit = change(
        "edge-c", n, opened.report_id, base_clock=BASE, title="T0", content="C0"
    )
    edit["fields"]["classification"] = "IL4"

    async def push_soon() -> dict[str, Any]:
        # Starting the push a little later on odd rounds lets either side win.
        await asyncio.sleep(0.01 * (n % 2))
        return await push(client, "edge-c", edit)

    resolved, pushed = await asyncio.gather(
        _resolve(client, opened.conflict_id, _keep(opened.from_b), etag=etag),
        push_soon(),
    )

    result = pushed["results"][0]
    conflict = (await client.get(f"/conflicts/{opened.conflict_id}")).json()
    current = await report(client, opened.report_id)
    if resolved.status_code == 200:
        # The edit came second: decided against the resolved version.
        assert result["outcome"] == "merged"
        assert len(conflict["siblings"]) == 2
        assert current["clock"] == RESOLVED_CLOCK | {"edge-c": 1}
        assert (current["title"], current["classification"]) == ("T-B", "IL4")
        assert current["conflict_id"] is None
    else:
        # The edit came first: it joined the conflict, so the ETag went stale.
        assert resolved.status_code == 409
        assert result["outcome"] == "conflict"
        assert result["conflict_id"] == opened.conflict_id
        assert conflict["status"] == "open"
        assert len(conflict["siblings"]) == 3
        assert current["kind"] == "provisional"


async def test_resolve_racing_a_push_is_decided_one_way(
    client: httpx.AsyncClient,
) -> None:
    """
    A resolution and a push of the same report serialise on the report lock:
    the push meets either the provisional or the resolved version, never both.
    """
    for n in range(1, 7):
        await _race(client, n)
