"""Change alerts to webhooks: signed JSON POSTs, retried with back-off, every attempt logged
(docs/changes.md).

    ids = create_deliveries(session, settings, capture)    # with the capture's commit
    outcome = deliver(settings, sessions, delivery_id)     # one attempt (task: workers/tasks.py)
    sign(secret, body) / verify(secret, body, header)      # X-Archiver-Signature: sha256=<hex>
"""
from archiver.webhooks.deliveries import (DELIVERED, FAILED, PENDING, DeliveryOutcome, create_deliveries,
                                          deliver, delivery_json, mark_unqueued)
from archiver.webhooks.signature import HEADER, sign, verify
from archiver.webhooks.transport import check_webhook_url

__all__ = ["create_deliveries", "deliver", "DeliveryOutcome", "delivery_json", "mark_unqueued",
           "PENDING", "DELIVERED", "FAILED", "HEADER", "sign", "verify", "check_webhook_url"]
