"""Every BAP table, imported together so that the migrations (`migrations.MODEL_MODULES`) see them all."""

from bap.alerts.models import Alert
from bap.audit.models import AuditEntry
from bap.beckn.models import ClientTransaction
from bap.events.models import FlexEvent, FlexOffer
from bap.orders.models import Order

__all__ = ["Alert", "AuditEntry", "ClientTransaction", "FlexEvent", "FlexOffer", "Order"]
