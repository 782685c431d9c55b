"""Loads the demo county into a running network, once: running it again changes nothing.

Accounts go straight into the gateway's database (the loader is the only thing that creates them);
the org tree and the catalogue go through the public API as the demo admin, like any county's admin.
Refuses to run when the settings say production.
"""

from __future__ import annotations

import httpx

from deploy import demo_county
from gateway.accounts import ensure_client, ensure_user
from gateway.models import make_gateway_engine
from shared.db import session_scope
from shared.settings import Settings

DEMO_CLIENT_ID = "demo-system"


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


def load_catalogue(gateway_url: str) -> None:
    with httpx.Client(base_url=gateway_url, timeout=30) as client:
        reply = client.post(
            "/api/v1/auth/token",
            data={"grant_type": "password", "username": "admin", "password": demo_county.DEMO_PASSWORD},
        )
        reply.raise_for_status()
        headers = {"Authorization": f"Bearer {reply.json()['access_token']}"}
        for org in demo_county.ORGS:
            body = {k: v for k, v in org.items() if k != "code"}
            client.put(f"/api/v1/orgs/{org['code']}", json=body, headers=headers).raise_for_status()
        for item in demo_county.ITEMS:
            body = {k: v for k, v in item.items() if k != "item_code"}
            client.put(
                f"/api/v1/catalogue/items/{item['item_code']}", json=body, headers=headers
            ).raise_for_status()


def load_demo(settings: Settings, gateway_url: str) -> None:
    if settings.is_production:
        raise DemoRefused("The demo county is never loaded when WEIMIN_ENVIRONMENT=production")
    load_accounts(settings)
    load_catalogue(gateway_url)
