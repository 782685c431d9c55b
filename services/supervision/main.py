"""The supervision service: read models of every event (电子监察)."""

from services.supervision.events import SUBSCRIPTION
from services.supervision.routes import router
from shared.service_app import create_service_app

app = create_service_app(
    "supervision",
    title="Weimin supervision",
    description="Case timelines, clocks, ratings (好差评) and statistics, built from events alone.",
    routers=[router],
    subscription=SUBSCRIPTION,
)
