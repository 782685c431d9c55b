"""The catalogue service: org tree, service items, and their publication events."""

from services.catalogue.models import Item, Org
from services.catalogue.routes import router
from shared.service_app import create_service_app

app = create_service_app(
    "catalogue",
    title="Weimin catalogue",
    description="The org directory and the county's service-item catalogue (事项目录). Public reads.",
    tables=[Org, Item],
    routers=[router],
)
