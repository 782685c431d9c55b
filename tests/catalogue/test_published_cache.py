"""Published items served from memory: what a reader notices is only that it is fast. Every change is
visible at once on the replica that made it and within the bound on another; bodies are the bytes
the route always wrote; ETag / If-None-Match saves the body when nothing changed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.catalogue.generation import CHECK_SECONDS
from tests.catalogue.conftest import ADMIN, assert_problem, bearer, in_app, seed_units, service_app

ADMIN_H = bearer(ADMIN)
URL = "/api/v1/catalogue/items/LY-1"
BODY = {
    "name": "临时救助",
    "deciding_level": "town",
    "item_type": "05",
    "promised_days": 5,
    "legal_days": 10,
    "materials": [{"name": "临时救助申请书"}, {"name": "居民身份证", "copies": 1}],
}


def _publish(client: TestClient, body: dict, *, based_on: str | None = None) -> str:
    """Write the draft and publish it; the published version's ETag."""
    headers = {**ADMIN_H, "If-Match": based_on} if based_on else ADMIN_H
    draft = client.put(f"{URL}/draft", json=body, headers=headers)
    assert draft.status_code in (200, 201), draft.text
    published = client.post(f"{URL}/publish", headers={**ADMIN_H, "If-Match": draft.headers["etag"]})
    assert published.status_code == 200, published.text
    return published.headers["etag"]


def test_published_item_change_is_visible_at_once(client: TestClient) -> None:
    v1 = _publish(client, BODY)
    first, again = client.get(URL), client.get(URL)  # the second comes from memory
    assert first.status_code == again.status_code == 200
    assert first.content == again.content and first.headers["etag"] == again.headers["etag"] == v1

    v2 = _publish(client, {**BODY, "promised_days": 3}, based_on=v1)
    after = client.get(URL)
    assert after.headers["etag"] == v2 != v1
    assert after.json()["version_no"] == 2 and after.json()["promised_days"] == 3
    old = client.get(f"{URL}/versions/1").json()
    assert old["state"] == "retired" and old["superseded_by"] == 2

    retired = client.post(f"{URL}/retire", headers={**ADMIN_H, "If-Match": v2}, json={"reason": "合并"})
    assert retired.status_code == 200, retired.text
    assert client.get(URL).json()["state"] == "retired"
    assert client.get(f"{URL}/versions/2").json()["state"] == "retired"


def test_cached_answer_is_the_bytes_the_route_always_wrote(client: TestClient) -> None:
    _publish(client, BODY)
    loaded = client.get(URL)
    cached = client.get(URL)  # from memory, before FastAPI's routing
    assert cached.content == loaded.content and cached.headers["x-request-id"]
    # An admin's read of the same version goes the ordinary way (FastAPI serialising ItemRead).
    ordinary = client.get(f"{URL}/versions/1", headers=ADMIN_H)
    assert ordinary.status_code == 200 and cached.content == ordinary.content
    assert cached.headers["content-type"] == ordinary.headers["content-type"] == "application/json"
    assert cached.headers["etag"] == ordinary.headers["etag"]
    assert client.get(f"{URL}/versions/1").content == ordinary.content
    assert client.get(f"{URL}/versions/1").content == ordinary.content  # from memory
    # A token is still checked where the answer depends on who asks.
    assert_problem(client.get(f"{URL}/versions/1", headers={"Authorization": "Bearer nonsense"}), 401)


def test_if_none_match_answers_304(client: TestClient) -> None:
    tag = _publish(client, BODY)
    full = client.get(URL)
    unchanged = client.get(URL, headers={"If-None-Match": tag})
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert unchanged.headers["etag"] == tag and unchanged.headers["x-request-id"]
    assert client.get(URL, headers={"If-None-Match": f'"other", W/{tag}'}).status_code == 304
    assert client.get(URL, headers={"If-None-Match": '"LY-1-v9-r9"'}).content == full.content

    # Retiring keeps the version's tag, so a retired answer is always sent in full.
    client.post(f"{URL}/retire", headers={**ADMIN_H, "If-Match": tag})
    after = client.get(URL, headers={"If-None-Match": tag})
    assert after.status_code == 200 and after.json()["state"] == "retired"


def test_drafts_are_never_served_from_memory(client: TestClient) -> None:
    v1 = _publish(client, BODY)
    draft = client.put(f"{URL}/draft", json={**BODY, "promised_days": 2}, headers={**ADMIN_H, "If-Match": v1})
    assert draft.status_code == 201
    assert client.get(f"{URL}/versions/2", headers=ADMIN_H).json()["state"] == "draft"
    assert_problem(client.get(f"{URL}/versions/2"), 404, "item-version-not-found")
    assert client.get(URL).json()["version_no"] == 1  # the draft does not touch the live answer
    client.post(f"{URL}/publish", headers={**ADMIN_H, "If-Match": draft.headers["etag"]})
    assert client.get(f"{URL}/versions/2").json()["state"] == "published"
    assert_problem(client.get("/api/v1/catalogue/items/NOPE-1"), 404, "item-not-found")


def test_a_second_replica_sees_a_publish_within_the_bound(
    tmp_path: Path, nats_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    var = tmp_path / "var"
    with service_app("catalogue", var, nats_url, monkeypatch) as one:
        in_app(one, seed_units)
        v1 = _publish(one, BODY)
        with service_app("catalogue", var, nats_url, monkeypatch) as other:  # same database
            assert other.get(URL).headers["etag"] == v1  # now in the other replica's memory
            v2 = _publish(one, {**BODY, "promised_days": 3}, based_on=v1)
            published_at = time.monotonic()
            while other.get(URL).headers["etag"] != v2:
                assert time.monotonic() - published_at < CHECK_SECONDS + 2.0, "the publish never showed"
                time.sleep(0.02)
            assert other.get(URL).json()["promised_days"] == 3
            assert other.get(f"{URL}/versions/1").json()["state"] == "retired"
