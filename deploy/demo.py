"""Loads the demo county into a running network, once: running it again changes nothing.

Accounts go straight into the gateway's database (the loader is the only thing that creates them);
the org tree, the catalogue spreadsheet (through the import endpoint) and the county's directories go
through the public API as the demo admin, like any county's admin.
Refuses to run when the settings say production.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from deploy import demo_county
from gateway.accounts import ensure_client, ensure_user
from gateway.models import make_gateway_engine
from services.catalogue.schemas import DirectoryUpsert
from shared.db import session_scope
from shared.settings import Settings

DEMO_CLIENT_ID = "demo-system"
CATALOGUE_FILE = Path(__file__).with_name("demo_catalogue") / "linyi.xlsx"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class DemoRefused(RuntimeError):
    pass


def load_accounts(settings: Settings) -> int:
    engine = make_gateway_engine(settings)
    try:
        with session_scope(engine) as session:
            for row in demo_county.accounts():
                ensure_user(session, password=demo_county.DEMO_PASSWORD, **row)
            ensure_client(
                session,
                client_id=DEMO_CLIENT_ID,
                client_secret=demo_county.DEMO_PASSWORD,
                org_code=demo_county.COUNTY,
                name="示例对接系统",
            )
    finally:
        engine.dispose()
    return len(demo_county.accounts())


def _admin_client(gateway_url: str) -> httpx.Client:
    client = httpx.Client(base_url=gateway_url, timeout=60)
    reply = client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": "admin", "password": demo_county.DEMO_PASSWORD},
    )
    reply.raise_for_status()
    client.headers["Authorization"] = f"Bearer {reply.json()['access_token']}"
    return client


def import_catalogue(client: httpx.Client, path: Path = CATALOGUE_FILE, timeout: float = 120) -> dict:
    """Import the spreadsheet through the catalogue's import, as a county admin would; wait for the job."""
    with path.open("rb") as spreadsheet:
        reply = client.post(
            "/api/v1/catalogue/imports",
            files={"file": (path.name, spreadsheet, XLSX)},
            data={"publish": "true"},
        )
    reply.raise_for_status()
    job_url = f"/api/v1/catalogue/imports/{reply.json()['job_id']}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(job_url).raise_for_status().json()
        if job["status"] == "succeeded":
            return job
        if job["status"] == "failed":
            problems = "; ".join(p["message"] for p in job["problems"])
            raise RuntimeError(f"The demo catalogue did not import: {problems}")
        time.sleep(0.2)
    raise RuntimeError("The demo catalogue import did not finish in time")


def publish_directory(client: httpx.Client, county: str, level: str, content: dict) -> bool:
    """Publish the directory unless the published one already says the same; True when it published."""
    base = f"/api/v1/catalogue/directories/{county}/{level}"
    published = client.get(base)
    fields = ("title", "entries", "overrides")
    if published.status_code == 200:
        wanted = DirectoryUpsert.model_validate(content).model_dump(mode="json")
        if {k: published.json()[k] for k in fields} == {k: wanted[k] for k in fields}:
            return False
    draft = client.get(f"{base}/draft")
    etag = draft.headers.get("etag") if draft.status_code == 200 else published.headers.get("etag")
    headers = {"If-Match": etag} if etag else {}
    reply = client.put(f"{base}/draft", json=content, headers=headers).raise_for_status()
    client.post(f"{base}/publish", headers={"If-Match": reply.headers["etag"]}).raise_for_status()
    return True


def load_catalogue(gateway_url: str) -> None:
    """The org tree, the catalogue spreadsheet (through the import), then the county's directories.

    Idempotent: units are upserts, unchanged items make no new version, an unchanged directory is
    not published again; a second load writes nothing and emits no event."""
    client = _admin_client(gateway_url)
    try:
        for org in demo_county.ORGS:
            body = {k: v for k, v in org.items() if k != "code"}
            client.put(f"/api/v1/orgs/{org['code']}", json=body).raise_for_status()
        import_catalogue(client)
        for level, content in demo_county.DIRECTORIES.items():
            publish_directory(client, demo_county.COUNTY, level, content)
    finally:
        client.close()


def load_demo(settings: Settings, gateway_url: str) -> None:
    if settings.is_production:
        raise DemoRefused("The demo county is never loaded when WEIMIN_ENVIRONMENT=production")
    load_accounts(settings)
    load_catalogue(gateway_url)
