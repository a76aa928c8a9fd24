"""Domain errors. Each carries the HTTP status and a message a person can act on.

One handler (in `kuota.api.errors`) renders every `KuotaError` as RFC 9457
problem+json; services never raise HTTP exceptions themselves.
"""

from __future__ import annotations

from typing import Any


class KuotaError(Exception):
    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    @classmethod
    def from_problem(cls, status: int, problem: dict[str, Any]) -> KuotaError:
        """The refusal again, from the problem+json it was stored as (an idempotent
        answer replayed), with its kind (`slug`), status and field."""
        error = cls(str(problem.get("detail", "")), field=str(problem.get("field", "")))
        error.slug = str(problem.get("type", "")).rsplit("/", 1)[-1]
        error.status = status
        return error

    def problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"https://kuota.dev/problems/{self.slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        body.update(self.extra)
        return body


class ConfigurationError(KuotaError):
    status = 500
    slug = "configuration"
    title = "Configuration error"


class InvalidInput(KuotaError):
    status = 422
    slug = "invalid-input"
    title = "Invalid input"


class NotFound(KuotaError):
    status = 404
    slug = "not-found"
    title = "Not found"


class Unauthenticated(KuotaError):
    status = 401
    slug = "unauthenticated"
    title = "Authentication required"


class Forbidden(KuotaError):
    status = 403
    slug = "forbidden"
    title = "Forbidden"


class Conflict(KuotaError):
    status = 409
    slug = "conflict"
    title = "Conflict"


class InsufficientFunds(KuotaError):
    status = 402
    slug = "insufficient-funds"
    title = "Insufficient funds"


class IdempotencyKeyRequired(KuotaError):
    status = 400
    slug = "idempotency-key-required"
    title = "Idempotency-Key header required"


class IdempotencyKeyReused(KuotaError):
    status = 422
    slug = "idempotency-key-reused"
    title = "Idempotency-Key reused with a different request"


class PromotionRejected(KuotaError):
    status = 422
    slug = "promotion-rejected"
    title = "Promotion cannot be applied"


class PaymentMethodUnavailable(KuotaError):
    status = 422
    slug = "payment-method-unavailable"
    title = "Payment method unavailable"


class LedgerImbalance(KuotaError):
    """A programming error: an entry that does not balance is never written."""

    status = 500
    slug = "ledger-imbalance"
    title = "Ledger entry does not balance"


class WebhookRejected(KuotaError):
    status = 401
    slug = "webhook-rejected"
    title = "Webhook rejected"


class GatewayBusy(KuotaError):
    """The gateway did not answer: the caller (often the gateway itself) should retry."""

    status = 503
    slug = "gateway-unavailable"
    title = "Payment gateway unavailable"


class TooManyAttempts(KuotaError):
    status = 429
    title = "Too many attempts"
    slug = "too-many-attempts"


class CsrfRejected(KuotaError):
    status = 403
    title = "Form expired"
    slug = "csrf-rejected"


class IdentityMismatch(KuotaError):
    """The NIK typed at a store is not the one the card is registered to."""

    status = 403
    title = "Identity does not match"
    slug = "identity-mismatch"
