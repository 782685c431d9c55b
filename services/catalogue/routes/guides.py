"""办事指南: each item's public guide, as JSON and as a printable zh-CN page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse

from services.catalogue import guides
from services.catalogue.schemas import ITEM_CODE_PATTERN, Guide
from shared.db import SessionDep
from shared.divisions import CODE_PATTERN
from shared.errors import problem_responses

router = APIRouter(prefix="/api/v1/catalogue", tags=["catalogue"])

ItemCode = Annotated[str, Path(pattern=ITEM_CODE_PATTERN)]
AtUnit = Annotated[
    str | None,
    Query(pattern=CODE_PATTERN, description="Say whether this unit serves it, and if not, who does"),
]


@router.get(
    "/items/{item_code}/guide",
    response_model=Guide,
    summary="The item's guide (办事指南, public)",
    responses=problem_responses(404, 422),
)
async def get_guide(item_code: ItemCode, session: SessionDep, org_code: AtUnit = None) -> Guide:
    return await guides.guide(session, item_code, org_code)


@router.get(
    "/items/{item_code}/guide.html",
    response_class=HTMLResponse,
    summary="The item's guide as a printable zh-CN page (public)",
    responses={200: {"content": {"text/html": {}}}, **problem_responses(404, 422)},
)
async def get_guide_html(item_code: ItemCode, session: SessionDep, org_code: AtUnit = None) -> HTMLResponse:
    page = guides.render_html(await guides.guide(session, item_code, org_code))
    return HTMLResponse(page, headers={"Content-Language": "zh-CN"})
