"""Who is calling: a logged-in person or a kiosk device."""

from __future__ import annotations

from dataclasses import dataclass

from kuota.auth.models import OPERATOR_ROLES, RETAIL_ROLES, Role


@dataclass(frozen=True, slots=True)
class Principal:
    kind: str  # "user" | "kiosk"
    id: int
    name: str
    role: Role | None = None
    store_id: int | None = None
    retailer_id: int | None = None  # a retailer owner's
    locale: str = "id"

    @property
    def scope(self) -> str:
        """The namespace of this caller's idempotency keys."""
        return f"{self.kind}:{self.id}"

    @property
    def is_operator(self) -> bool:
        return self.role in OPERATOR_ROLES

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def is_subscriber(self) -> bool:
        return self.role is Role.SUBSCRIBER

    @property
    def is_retail(self) -> bool:
        return self.role in RETAIL_ROLES

    @property
    def is_kiosk(self) -> bool:
        return self.kind == "kiosk"
