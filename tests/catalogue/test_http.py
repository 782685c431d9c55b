"""The catalogue over HTTP: public reads, admin writes, ETag / If-Match, imports as jobs, guides."""

from __future__ import annotations

import io

from fastapi.testclient import TestClient
from openpyxl import load_workbook

from deploy.demo_catalogue.build import DEMO_FILE
from services.catalogue import spreadsheet
from tests.catalogue.conftest import (
    ADMIN,
    CLERK,
    COUNTY,
    FOREIGN_ADMIN,
    OTHER_TOWN,
    TOWN,
    TOWN_ADMIN,
    VILLAGE,
    assert_problem,
    bearer,
)
from tests.catalogue.test_imports import GOOD, row, xlsx

ADMIN_H = bearer(ADMIN)
BODY = {
    "name": "临时救助",
    "deciding_level": "town",
    "item_type": "05",
    "promised_days": 5,
    "legal_days": 10,
    "materials": [{"name": "临时救助申请书"}, {"name": "居民身份证", "copies": 1}],
}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _import(client: TestClient, data: bytes, filename: str = "目录.xlsx") -> dict:
    reply = client.post("/api/v1/catalogue/imports", files={"file": (filename, data, XLSX)}, headers=ADMIN_H)
    assert reply.status_code == 202, reply.text
    assert reply.headers["location"] == f"/api/v1/catalogue/imports/{reply.json()['job_id']}"
    job = client.get(reply.headers["location"], headers=ADMIN_H)
    assert job.status_code == 200
    return job.json()


def _publish_directories(client: TestClient) -> None:
    for level in ("village", "town"):
        body = {
            "title": f"{level}目录",
            "entries": [{"item_code": "MZ-1"}, {"item_code": "MZ-3", "served": False}],
        }
        draft = client.put(
            f"/api/v1/catalogue/directories/{COUNTY}/{level}/draft", json=body, headers=ADMIN_H
        )
        assert draft.status_code == 201, draft.text
        published = client.post(
            f"/api/v1/catalogue/directories/{COUNTY}/{level}/publish",
            headers={**ADMIN_H, "If-Match": draft.headers["etag"]},
        )
        assert published.status_code == 200, published.text


def test_stale_if_match_is_412(client: TestClient) -> None:
    url = "/api/v1/catalogue/items/LY-1/draft"
    created = client.put(url, json=BODY, headers=ADMIN_H)
    assert created.status_code == 201 and created.headers["etag"] == '"LY-1-v1-r1"'
    first = client.put(
        url, json={**BODY, "promised_days": 4}, headers={**ADMIN_H, "If-Match": created.headers["etag"]}
    )
    assert first.status_code == 200 and first.headers["etag"] == '"LY-1-v1-r2"'
    # A second editor who read the draft before the first one saved:
    stale = client.put(
        url, json={**BODY, "promised_days": 3}, headers={**ADMIN_H, "If-Match": created.headers["etag"]}
    )
    body = assert_problem(stale, 412, "stale-etag")
    assert body["current_etag"] == '"LY-1-v1-r2"'
    assert_problem(client.put(url, json=BODY, headers=ADMIN_H), 428, "if-match-required")
    assert_problem(client.post("/api/v1/catalogue/items/LY-1/publish", headers=ADMIN_H), 428)
    published = client.post(
        "/api/v1/catalogue/items/LY-1/publish", headers={**ADMIN_H, "If-Match": first.headers["etag"]}
    )
    assert published.status_code == 200 and published.json()["promised_days"] == 4
    live = client.get("/api/v1/catalogue/items/LY-1")
    assert live.headers["etag"] == published.headers["etag"] and live.json()["state"] == "published"


def test_reads_are_public_and_writes_need_a_county_admin(client: TestClient) -> None:
    assert_problem(client.put("/api/v1/catalogue/items/LY-1/draft", json=BODY), 401)
    assert_problem(client.put("/api/v1/catalogue/items/LY-1/draft", json=BODY, headers=bearer(CLERK)), 403)
    draft = client.put("/api/v1/catalogue/items/LY-1/draft", json=BODY, headers=ADMIN_H)
    assert_problem(client.get("/api/v1/catalogue/items/LY-1"), 404, "item-not-published")
    assert_problem(client.get("/api/v1/catalogue/items/LY-1/draft"), 401)
    assert (
        client.get("/api/v1/catalogue/items/LY-1/versions").json()["versions"] == []
    )  # drafts are not public
    client.post(
        "/api/v1/catalogue/items/LY-1/publish", headers={**ADMIN_H, "If-Match": draft.headers["etag"]}
    )
    item = client.get("/api/v1/catalogue/items/LY-1").json()  # no token
    assert item["labels"]["item_type"] == "行政给付" and item["handling_type"] == "2"
    assert client.get("/api/v1/catalogue/items/LY-1/versions/1").json()["name"] == "临时救助"
    assert (
        client.get("/api/v1/catalogue/items", params={"q": "救助"}).json()["items"][0]["item_code"] == "LY-1"
    )
    audit = client.get("/api/v1/catalogue/items/LY-1/audit", headers=ADMIN_H).json()["items"]
    assert {a["action"] for a in audit} == {"created", "published"}
    assert_problem(client.get("/api/v1/catalogue/items/LY-1/audit"), 401)
    assert_problem(
        client.put("/api/v1/catalogue/items/LY-1/draft", json={**BODY, "item_type": "99"}, headers=ADMIN_H),
        422,
    )


def test_version_a_case_was_received_under_stays_readable(client: TestClient) -> None:
    draft = client.put("/api/v1/catalogue/items/LY-1/draft", json=BODY, headers=ADMIN_H)
    v1 = client.post(
        "/api/v1/catalogue/items/LY-1/publish", headers={**ADMIN_H, "If-Match": draft.headers["etag"]}
    )
    edit = client.put(
        "/api/v1/catalogue/items/LY-1/draft",
        json={**BODY, "materials": [{"name": "新申请表"}]},
        headers={**ADMIN_H, "If-Match": v1.headers["etag"]},
    )
    client.post("/api/v1/catalogue/items/LY-1/publish", headers={**ADMIN_H, "If-Match": edit.headers["etag"]})
    old = client.get("/api/v1/catalogue/items/LY-1/versions/1").json()
    assert old["state"] == "retired" and old["superseded_by"] == 2
    assert [m["name"] for m in old["materials"]] == ["临时救助申请书", "居民身份证"]
    assert [v["state"] for v in client.get("/api/v1/catalogue/items/LY-1/versions").json()["versions"]] == [
        "retired",
        "published",
    ]


def test_import_over_http_reports_every_row_problem_and_never_500s(client: TestClient) -> None:
    job = _import(
        client, xlsx([*GOOD, row("MZ-5", "高龄津贴", 承诺时限=2.5), row("MZ-6", "救助", 事项类型="99")])
    )
    assert job["status"] == "failed" and job["summary"] == {}
    first, second = (p["message"] for p in job["problems"])
    assert first.startswith("第6行: 承诺时限必须是整数个工作日") and second.startswith(
        "第7行: 未知的事项类型 99"
    )
    assert job["error"]["type"] == "urn:weimin:problem:import-rejected" and len(job["error"]["problems"]) == 2
    assert client.get("/api/v1/catalogue/items").json()["items"] == []
    assert_problem(
        client.post(
            "/api/v1/catalogue/imports",
            files={"file": ("a.pdf", b"%PDF-1.4", "application/pdf")},
            headers=ADMIN_H,
        ),
        415,
        "unsupported-file-type",
    )
    empty = client.post("/api/v1/catalogue/imports", files={"file": ("a.xlsx", b"", XLSX)}, headers=ADMIN_H)
    assert_problem(empty, 422, "import-unreadable")
    headers = xlsx([], headers=["事项编码", "事项名称", "办理人"])
    wrong = assert_problem(
        client.post("/api/v1/catalogue/imports", files={"file": ("a.xlsx", headers, XLSX)}, headers=ADMIN_H),
        422,
    )
    unknown, missing = (p["message"] for p in wrong["problems"])
    assert unknown == "第1行: 未知的列 “办理人”" and missing.startswith("第1行: 缺少必填的列: 事项类型")
    assert_problem(client.post("/api/v1/catalogue/imports", headers=ADMIN_H), 422)
    assert_problem(client.post("/api/v1/catalogue/imports", files={"file": ("a.xlsx", b"x", XLSX)}), 401)


def test_import_then_export_and_template_over_http(client: TestClient) -> None:
    job = _import(client, DEMO_FILE.read_bytes(), "linyi.xlsx")
    assert (
        job["status"] == "succeeded"
        and job["summary"]["created"] == 10
        and job["rows_done"] == job["rows_total"]
    )
    exported = client.get("/api/v1/catalogue/export.xlsx")
    assert exported.status_code == 200 and exported.headers["content-type"] == XLSX
    parsed = spreadsheet.parse(spreadsheet.read_table(exported.content, "xlsx"))
    assert parsed.problems == [] and len(parsed.items) == 10
    as_csv = client.get("/api/v1/catalogue/export.csv")
    assert as_csv.content.startswith("\ufeff事项编码,事项名称".encode())
    template = client.get("/api/v1/catalogue/template.xlsx")
    sheet = load_workbook(io.BytesIO(template.content))[spreadsheet.SHEET]
    assert [c.value for c in sheet[1]] == [c.header for c in spreadsheet.COLUMNS]
    assert _import(client, exported.content)["summary"]["unchanged"] == 10


def test_unit_list_and_guides_are_public(client: TestClient) -> None:
    assert _import(client, xlsx(GOOD))["status"] == "succeeded"
    _publish_directories(client)
    items = client.get("/api/v1/catalogue/items", params={"org_code": VILLAGE}).json()["items"]
    assert [(i["item_code"], i["served"]) for i in items] == [("MZ-1", True), ("MZ-3", False)]
    assert items[1]["handled_by"] == {
        "org_code": TOWN,
        "name": "临邑镇",
        "address": "临邑镇为民服务中心",
        "phone": "0534-4210100",
    }
    assert [
        i["name"]
        for i in client.get("/api/v1/catalogue/items", params={"q": "低保", "org_code": VILLAGE}).json()[
            "items"
        ]
    ] == ["最低生活保障"]
    guide = client.get("/api/v1/catalogue/items/MZ-1/guide").json()
    assert guide["item_type"] == {"code": "05", "label": "行政给付"}
    assert [(m["no"], m["name"], m["required"]) for m in guide["materials"]] == [
        (1, "低保申请书", True),
        (2, "居民身份证", True),
        (3, "残疾证", False),
    ]
    at_village = client.get("/api/v1/catalogue/items/MZ-3/guide", params={"org_code": VILLAGE}).json()
    assert (
        at_village["at_unit"]["served"] is False and at_village["at_unit"]["handled_by"]["org_code"] == TOWN
    )
    page = client.get("/api/v1/catalogue/items/MZ-3/guide.html", params={"org_code": VILLAGE})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<html lang="zh-CN">' in page.text and "办事指南" in page.text and "☐" in page.text
    assert "暂不办理本事项" in page.text and "0534-4210100" in page.text and "@media print" in page.text
    published = client.get(f"/api/v1/catalogue/directories/{COUNTY}/village")
    assert published.status_code == 200 and published.headers["etag"] == f'"{COUNTY}-village-v1-r1"'


def test_guide_html_escapes_what_admins_typed(client: TestClient) -> None:
    body = {**BODY, "name": "<script>alert(1)</script>救助", "procedure": "第一步 & 第二步"}
    draft = client.put("/api/v1/catalogue/items/X-1/draft", json=body, headers=ADMIN_H)
    client.post("/api/v1/catalogue/items/X-1/publish", headers={**ADMIN_H, "If-Match": draft.headers["etag"]})
    page = client.get("/api/v1/catalogue/items/X-1/guide.html").text
    assert "<script>" not in page and "&lt;script&gt;" in page and "第一步 &amp; 第二步" in page


def test_lists_page_with_a_cursor(client: TestClient) -> None:
    assert _import(client, DEMO_FILE.read_bytes())["status"] == "succeeded"
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/catalogue/items", params=params).json()
        seen += [i["item_code"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 10


def test_admin_of_another_county_cannot_edit_this_countys_units(client: TestClient) -> None:
    body = {"name": "改名镇", "address": "别处", "phone": "000"}
    refused = client.put(f"/api/v1/orgs/{TOWN}", json=body, headers=bearer(FOREIGN_ADMIN))
    assert_problem(refused, 403, "outside-jurisdiction")
    assert client.get(f"/api/v1/orgs/{TOWN}").json()["name"] == "临邑镇"
    new_village = "371424100299"
    assert_problem(
        client.put(f"/api/v1/orgs/{new_village}", json=body, headers=bearer(FOREIGN_ADMIN)),
        403,
        "outside-jurisdiction",
    )
    assert_problem(client.get(f"/api/v1/orgs/{new_village}"), 404, "org-not-found")
    assert_problem(client.put(f"/api/v1/orgs/{TOWN}", json=body, headers=bearer(CLERK)), 403, "role-required")


def test_an_admin_edits_units_of_their_own_subtree_only(client: TestClient) -> None:
    renamed = client.put(f"/api/v1/orgs/{TOWN}", json={"name": "临邑镇(新)"}, headers=ADMIN_H)
    assert renamed.status_code == 200 and renamed.json()["name"] == "临邑镇(新)"
    created = client.put("/api/v1/orgs/371424100299", json={"name": "新村"}, headers=ADMIN_H)
    assert created.status_code == 201 and created.json()["parent_code"] == TOWN
    # Not the city above the county, nor a town's sibling by its admin.
    assert_problem(
        client.put("/api/v1/orgs/371400000000", json={"name": "德州市"}, headers=ADMIN_H),
        403,
        "outside-jurisdiction",
    )
    assert_problem(
        client.put(f"/api/v1/orgs/{OTHER_TOWN}", json={"name": "宿安乡"}, headers=bearer(TOWN_ADMIN)),
        403,
        "outside-jurisdiction",
    )


def test_item_draft_and_audit_over_http_need_an_admin_of_the_items_area(client: TestClient) -> None:
    draft = client.put("/api/v1/catalogue/items/LY-1/draft", json=BODY, headers=ADMIN_H)
    assert draft.status_code == 201
    mine = client.get("/api/v1/catalogue/items/LY-1/draft", headers=ADMIN_H)
    assert mine.status_code == 200 and mine.headers["etag"] == draft.headers["etag"]
    foreign = bearer(FOREIGN_ADMIN)
    for url in ("/api/v1/catalogue/items/LY-1/draft", "/api/v1/catalogue/items/LY-1/audit"):
        assert_problem(client.get(url, headers=foreign), 403, "outside-jurisdiction")
        assert_problem(client.get(url, headers=bearer(CLERK)), 403, "role-required")
    # To an admin of another county the draft version is what it is to the public: not there.
    assert_problem(client.get("/api/v1/catalogue/items/LY-1/versions/1", headers=foreign), 404)
    assert client.get("/api/v1/catalogue/items/LY-1/versions", headers=foreign).json()["versions"] == []
    assert [
        v["state"]
        for v in client.get("/api/v1/catalogue/items/LY-1/versions", headers=ADMIN_H).json()["versions"]
    ] == ["draft"]
    # Nor may they write it, publish it, or read the county's directory drafts and audit.
    assert_problem(
        client.put(
            "/api/v1/catalogue/items/LY-1/draft",
            json={**BODY, "name": "篡改"},
            headers={**foreign, "If-Match": draft.headers["etag"]},
        ),
        403,
        "outside-jurisdiction",
    )
    assert_problem(
        client.post(
            "/api/v1/catalogue/items/LY-1/publish", headers={**foreign, "If-Match": draft.headers["etag"]}
        ),
        403,
        "outside-jurisdiction",
    )
    for url in (
        f"/api/v1/catalogue/directories/{COUNTY}/village/draft",
        f"/api/v1/catalogue/directories/{COUNTY}/village/audit",
    ):
        assert_problem(client.get(url, headers=foreign), 403, "outside-jurisdiction")
    assert client.get("/api/v1/catalogue/items/LY-1/draft", headers=ADMIN_H).json()["name"] == "临时救助"


def test_if_match_star_or_a_list_names_the_current_version(client: TestClient) -> None:
    url = "/api/v1/catalogue/items/LY-1/draft"
    created = client.put(url, json=BODY, headers=ADMIN_H)
    listed = client.put(
        url,
        json={**BODY, "promised_days": 4},
        headers={**ADMIN_H, "If-Match": f'"LY-1-v9-r9", {created.headers["etag"]}'},
    )
    assert listed.status_code == 200 and listed.headers["etag"] == '"LY-1-v1-r2"'
    star = client.put(url, json={**BODY, "promised_days": 3}, headers={**ADMIN_H, "If-Match": "*"})
    assert star.status_code == 200 and star.json()["promised_days"] == 3
    assert_problem(
        client.put("/api/v1/catalogue/items/LY-2/draft", json=BODY, headers={**ADMIN_H, "If-Match": "*"}),
        412,
        "stale-etag",
    )


def test_org_list_and_audit_lists_are_keyset_pages(client: TestClient) -> None:
    codes: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/orgs", params=params).json()
        assert set(page) == {"items", "next_cursor"}
        codes += [o["code"] for o in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert codes == sorted(codes) and len(codes) == 6
    assert_problem(client.get("/api/v1/orgs", params={"limit": 201}), 422)
    for n in range(3):
        client.put(
            "/api/v1/catalogue/items/LY-1/draft",
            json={**BODY, "promised_days": 3 + n},
            headers={**ADMIN_H, "If-Match": "*"} if n else ADMIN_H,
        )
    url = "/api/v1/catalogue/items/LY-1/audit"
    everything = client.get(url, headers=ADMIN_H).json()["items"]
    first = client.get(url, params={"limit": 2}, headers=ADMIN_H).json()
    rest = client.get(url, params={"cursor": first["next_cursor"]}, headers=ADMIN_H).json()
    assert first["items"] + rest["items"] == everything and rest["next_cursor"] is None
    assert_problem(client.get(url, params={"cursor": "abc"}, headers=ADMIN_H), 422)
