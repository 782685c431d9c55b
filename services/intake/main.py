"""The intake service: one-window acceptance at the town and county halls."""

from services.intake.events import SUBSCRIPTION
from services.intake.models import IntakeCase, OneTimeNotice, Receipt
from services.intake.routes import router
from shared.case_sequences import CaseSequence
from shared.idempotency import IdempotencyRecord
from shared.item_copies import ItemCopy
from shared.service_app import create_service_app

app = create_service_app(
    "intake",
    title="Weimin intake",
    description="One-window acceptance (一窗受理): receipts, one-time notices, hand-ups between halls.",
    tables=[IntakeCase, OneTimeNotice, Receipt, CaseSequence, IdempotencyRecord, ItemCopy],
    routers=[router],
    subscription=SUBSCRIPTION,
)
