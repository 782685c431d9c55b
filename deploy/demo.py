"""Loads the demo county (and its city hall) into a running network, once: running it again changes
nothing.

Accounts go straight into the gateway's database (the loader is the only thing that creates them),
through an async session after bringing that database to its newest migration. The org tree, the
catalogue spreadsheets (through the import endpoint) and the county's directories go through the
public API as the demo admins, like any county's (or city's) admin: the city's admin writes the city's
unit and imports the city's items, so the city owns them; the county's admin does the rest.
Refuses to run when the settings say production.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import anyio
import httpx

from deploy import demo_county
from gateway.accounts import ensure_client, ensure_user
from services.catalogue.schemas import DirectoryUpsert
from shared import migrations
from shared.db import make_engine, session_scope
from shared.divisions import in_subtree
from shared.settings import Settings

DEMO_CLIENT_ID = "demo-system"
# Built by deploy/demo_catalogue/build.py (its DEMO_FILE and CITY_FILE).
CATALOGUE_FILE = Path(__file__).with_name("demo_catalogue") / "linyi.xlsx"
CITY_CATALOGUE_FILE = CATALOGUE_FILE.with_name("dezhou.xlsx")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COUNTY_ADMIN = "admin"


class DemoRefused(RuntimeError):
    pass


async def load_accounts_async(settings: Settings) -> int:
    """Every demo account and the demo API client, in one transaction; existing ones are kept."""
    await anyio.to_thread.run_sync(migrations.upgrade, "gateway", settings)
    engine = make_engine("gateway", settings)
    try:
        async with session_scope(engine) as session:
            for row in demo_county.accounts():
                await ensure_user(session, password=demo_county.DEMO_PASSWORD, **row)
            await ensure_client(
                session,
                client_id=DEMO_CLIENT_ID,
                client_secret=demo_county.DEMO_PASSWORD,
                org_code=demo_county.COUNTY,
                name="示例对接系统",
            )
    finally:
        await engine.dispose()
    return len(demo_county.accounts())


def load_accounts(settings: Settings) -> int:
    """``load_accounts_async`` from synchronous code (the launcher, the bench): not inside a running loop."""
    return asyncio.run(load_accounts_async(settings))


def _admin_client(gateway_url: str, username: str = COUNTY_ADMIN) -> httpx.Client:
    client = httpx.Client(base_url=gateway_url, timeout=60)
    reply = client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": demo_county.DEMO_PASSWORD},
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
            raise RuntimeError(f"The demo catalogue {path.name} did not import: {problems}")
        time.sleep(0.2)
    raise RuntimeError(f"The demo catalogue import of {path.name} did not finish in time")


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
    """The org tree, the catalogue spreadsheets (through the import), then the county's directories.

    Each unit is written by the admin whose jurisdiction holds it (the city by the city's admin), the
    city's items are imported by the city's admin, the county's by the county's; the directories come
    last, since the village directory lists a city item. Idempotent: units are upserts, unchanged
    items make no new version, an unchanged directory is not published again; a second load writes
    nothing and emits no event."""
    county = _admin_client(gateway_url)
    city = _admin_client(gateway_url, demo_county.CITY_ADMIN)
    try:
        for org in demo_county.ORGS:
            body = {k: v for k, v in org.items() if k != "code"}
            admin = county if in_subtree(demo_county.COUNTY, org["code"]) else city
            admin.put(f"/api/v1/orgs/{org['code']}", json=body).raise_for_status()
        import_catalogue(county, CATALOGUE_FILE)
        import_catalogue(city, CITY_CATALOGUE_FILE)
        for level, content in demo_county.DIRECTORIES.items():
            publish_directory(county, demo_county.COUNTY, level, content)
    finally:
        county.close()
        city.close()


def load_demo(settings: Settings, gateway_url: str) -> None:
    if settings.is_production:
        raise DemoRefused("The demo county is never loaded when WEIMIN_ENVIRONMENT=production")
    load_accounts(settings)
    load_catalogue(gateway_url)
