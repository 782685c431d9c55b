"""The catalogue service: the org tree, the county's versioned service items and directories,
their public guides, spreadsheet import/export, and the events that publish them."""

from fastapi import FastAPI

from services.catalogue.events import SUBSCRIPTION
from services.catalogue.imports import fail_interrupted_jobs
from services.catalogue.routes import routers
from services.catalogue.routes.cache import install_fast_path
from shared.service_app import create_service_app


async def _on_startup(app: FastAPI) -> None:
    await fail_interrupted_jobs(app.state.engine)


app = create_service_app(
    "catalogue",
    title="Weimin catalogue",
    description=(
        "The org directory and the county's service-item catalogue (事项目录): items with the GB/T 39046 "
        "attributes, versions (draft → published → retired), the towns' and villages' directories, "
        "guides (办事指南), and spreadsheet import/export. Reads are public (政务公开)."
    ),
    routers=routers,
    subscription=SUBSCRIPTION,
    on_startup=_on_startup,
)
# Published items already in memory are answered before FastAPI's routing (routes/cache.py).
install_fast_path(app)
