"""The agents service: village proxy agents collect, hand up, track and deliver."""

from services.agents.events import SUBSCRIPTION
from services.agents.routes import router
from shared.personal_data import require_keys
from shared.service_app import create_service_app

app = create_service_app(
    "agents",
    title="Weimin agents",
    description="Village proxy agents (代办员): collect a villager's matter, hand it up, deliver the result.",
    routers=[router],
    subscription=SUBSCRIPTION,
    # Personal data is sealed with the installation's keys: no start without them (generated outside
    # production).
    on_startup=require_keys,
)
