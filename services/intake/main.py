"""The intake service: one-window acceptance at the town, county and city halls."""

from services.intake.events import SUBSCRIPTION
from services.intake.routes import router
from shared.personal_data import require_keys
from shared.service_app import create_service_app

app = create_service_app(
    "intake",
    title="Weimin intake",
    description="One-window acceptance (一窗受理): receipts, one-time notices, hand-ups between halls.",
    routers=[router],
    subscription=SUBSCRIPTION,
    # Personal data is sealed with the installation's keys: no start without them (generated outside
    # production).
    on_startup=require_keys,
)
