"""NotifyPayment: a provider's result callback, verified, decrypted and settled.

The one path for every callback, whether it came through the edge's public route
`POST /v1/paymentNotifications/{provider}` or straight from the sandbox in dev:

1. the `Wechatpay-*` signature headers (gRPC metadata) must verify over the raw body
   with the provider's key and be recent (replays are refused);
2. the body's `resource` must decrypt (AES-256-GCM) with our API v3 key;
3. the result is applied like any other provider report (`booking.py`): a duplicate,
   late or reordered callback changes nothing once the payment is settled.

Answering OK acknowledges the callback; any error makes the provider retry it later.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from servers.billing.changes import customer_data_changed
from servers.billing.payments import booking, faults, protocol, refunds
from servers.billing.payments.booking import Outcome
from servers.billing.payments.protocol import ProtocolError
from servers.billing.payments.provider import ProviderRefund, ProviderTransaction
from servers.runtime import InvalidArgument, NotFound, Unauthenticated

if TYPE_CHECKING:
    from servers.billing.payments.service import PaymentService

log = logging.getLogger("palmgrid.payments.callbacks")

KNOWN_PROVIDERS = ("wechatpay", "alipay", "unionpay")


def handle_notification(
    service: PaymentService, provider: str, headers: Mapping[str, str], body: bytes
) -> None:
    """Verify and apply one callback; raises so that the provider retries it when it
    cannot be applied (yet)."""
    if provider not in KNOWN_PROVIDERS:
        raise NotFound(f"unknown payment provider {provider!r}")
    keys = service.keys
    try:
        protocol.verify_signed(
            headers,
            body,
            public_key=keys.provider_public_key,
            serial=keys.provider_serial,
            max_skew_seconds=service.settings.callback_max_skew_seconds,
        )
        event = protocol.loads(body)
        resource = event.get("resource")
        if not isinstance(resource, dict):
            raise ProtocolError("callback without a resource")
        plain = protocol.loads(protocol.decrypt_resource(keys.api_v3_key, resource))
    except ProtocolError as exc:
        log.warning("callback refused", extra={"provider": provider, "error": str(exc)})
        raise Unauthenticated(
            f"callback not verified: {exc}", reason="VERIFICATION_FAILED"
        ) from None
    kind = resource.get("original_type")
    # The provider confirmed it: from here on a lost result is the resolver's to find.
    faults.reach(service.settings, "crash_after_provider_confirmed")
    try:
        if kind == "transaction":
            _transaction(service, provider, ProviderTransaction.from_document(plain))
        elif kind == "refund":
            refunds.apply_report(service, ProviderRefund.from_document(plain))
        else:
            log.info("callback of an unknown kind acknowledged", extra={"kind": kind})
    except ProtocolError as exc:
        raise InvalidArgument(f"callback resource malformed: {exc}") from None


def _transaction(service: PaymentService, provider: str, report: ProviderTransaction) -> None:
    now = service.now()
    with service.runtime.session(write=True) as session:
        payment = booking.lock_payment(session, report.out_trade_no)
        if payment is None or payment.provider != provider:
            # Unknown here: let the provider retry (and reconciliation report it).
            raise NotFound(f"no payment {report.out_trade_no} with {provider}")
        outcome = booking.apply_transaction(
            session,
            payment,
            report,
            merchant_id=service.settings.merchant_id,
            app_id=service.settings.app_id,
            threshold_fen=service.settings.low_balance_threshold_fen,
            now=now,
        )
        customer_id = payment.customer_id
    log.info("payment callback", extra={"payment": report.out_trade_no, "outcome": outcome})
    if outcome == Outcome.CREDITED:
        customer_data_changed([customer_id])
