"""The approval service: the deciding level's decisions and the clocks they run against."""

from services.approval.events import SUBSCRIPTION
from services.approval.routes import router
from shared.service_app import create_service_app

app = create_service_app(
    "approval",
    title="Weimin approval",
    description="Decisions by the deciding level, against promised working-day limits.",
    routers=[router],
    subscription=SUBSCRIPTION,
)
