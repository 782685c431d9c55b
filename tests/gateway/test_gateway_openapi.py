"""The merged OpenAPI document and Swagger UI."""

from __future__ import annotations

from fastapi.testclient import TestClient

from gateway.openapi import MISSING_KEY, merge_openapi

REF = "#/components/schemas/"


def test_merged_document_holds_every_service_and_the_gateway(gateway: TestClient) -> None:
    response = gateway.get("/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"].startswith("3.1")
    assert MISSING_KEY not in doc
    paths = doc["paths"]
    for own in ("/api/v1/auth/token", "/api/v1/me", "/healthz"):
        assert own in paths
    for service in ("intake", "approval", "agents", "supervision", "catalogue"):
        assert f"/api/v1/{service}/things" in paths
        assert paths[f"/api/v1/{service}/things"]["post"]["tags"] == [service]
    assert (
        "/api/v1/orgs" in paths and "/api/v1/catalogue/items" in paths and "/api/v1/cases/{case_id}" in paths
    )
    # Test-only routes hidden by their service stay hidden; only the gateway's /healthz is listed.
    assert "/api/v1/intake/problem" not in paths
    assert paths["/healthz"]["get"]["tags"] == ["health"]
    assert {t["name"] for t in doc["tags"]} >= {"auth", "health", "catalogue", "intake", "supervision"}

    # Public reads need no token; everything else inherits the gateway's OAuth2 scheme.
    assert paths["/api/v1/orgs"]["get"]["security"] == []
    assert "security" not in paths["/api/v1/cases/{case_id}"]["get"]
    assert doc["security"] == [{"WeiminOAuth2": []}]
    assert doc["components"]["securitySchemes"]["WeiminOAuth2"]["flows"]["password"]["tokenUrl"] == (
        "/api/v1/auth/token"
    )


def test_clashing_schemas_are_renamed_and_their_refs_rewritten(gateway: TestClient) -> None:
    doc = gateway.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    # Same content everywhere: one copy. Same name, different content: prefixed copies.
    assert "Applicant" in schemas and "IntakeApplicant" not in schemas
    assert "catalogue_field" in schemas["Thing"]["properties"]
    assert "intake_field" in schemas["IntakeThing"]["properties"]
    assert "agents_field" in schemas["AgentsThing"]["properties"]
    body = doc["paths"]["/api/v1/intake/things"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    assert body == {"$ref": REF + "IntakeThing"}
    assert doc["paths"]["/api/v1/catalogue/things"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ] == {"$ref": REF + "Thing"}


def test_a_schema_that_refers_to_a_renamed_one_is_renamed_too() -> None:
    own = {"openapi": "3.1.0", "info": {"title": "gw", "version": "1"}, "paths": {}}

    def service(item_field: str) -> dict:
        return {
            "openapi": "3.1.0",
            "info": {"title": item_field},
            "paths": {
                f"/api/v1/{item_field}": {
                    "get": {
                        "responses": {
                            "200": {"content": {"application/json": {"schema": {"$ref": REF + "Page"}}}}
                        }
                    }
                }
            },
            "components": {
                "schemas": {
                    "Item": {"type": "object", "properties": {item_field: {"type": "string"}}},
                    "Page": {
                        "type": "object",
                        "properties": {"items": {"type": "array", "items": {"$ref": REF + "Item"}}},
                    },
                }
            },
        }

    merged = merge_openapi(own, {"intake": service("intake"), "agents": service("agents")})
    schemas = merged["components"]["schemas"]
    assert set(schemas) == {"Item", "Page", "AgentsItem", "AgentsPage"}
    assert schemas["AgentsPage"]["properties"]["items"]["items"] == {"$ref": REF + "AgentsItem"}
    assert merged["paths"]["/api/v1/agents"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ] == {"$ref": REF + "AgentsPage"}
    assert schemas["Page"]["properties"]["items"]["items"] == {"$ref": REF + "Item"}


def test_missing_services_are_listed_and_not_cached(gateway_factory, dead_url: str) -> None:
    gateway = gateway_factory(WEIMIN_AGENTS_URL=dead_url)
    doc = gateway.get("/openapi.json").json()
    assert doc[MISSING_KEY] == ["agents"]
    assert "/api/v1/intake/things" in doc["paths"] and "/api/v1/agents/things" not in doc["paths"]
    assert gateway.app.state.openapi._complete is None


def test_swagger_ui_points_at_the_merged_document(gateway: TestClient) -> None:
    response = gateway.get("/docs")
    assert response.status_code == 200
    assert "/openapi.json" in response.text


def test_api_docs_work_without_internet(gateway: TestClient) -> None:
    """Halls on a government intranet reach no CDN: Swagger UI's assets come from the gateway itself."""
    page = gateway.get("/docs").text
    assert "cdn" not in page.lower()
    for asset in ("/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"):
        assert asset in page
        served = gateway.get(asset)
        assert served.status_code == 200 and len(served.content) > 10_000
