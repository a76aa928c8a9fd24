"""Money as the API takes it: an integer of minor units and an ISO 4217 code, strictly."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from kuota.core.money import Money


class MoneyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: StrictInt = Field(description="minor units; IDR has two decimals (Rp 1 = 100)")
    currency: str = Field(min_length=3, max_length=3, pattern="^[A-Za-z]{3}$")

    def to_money(self) -> Money:
        """Raises InvalidInput (422) for a currency kuota does not sell in."""
        return Money(self.amount, self.currency.upper())
