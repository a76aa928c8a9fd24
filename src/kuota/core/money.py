"""Money as an integer number of minor units with an ISO 4217 currency. Never a float."""

from __future__ import annotations

from dataclasses import dataclass

from kuota.core.errors import InvalidInput

# ISO 4217 minor-unit exponents for the currencies kuota sells in.
CURRENCY_EXPONENTS: dict[str, int] = {"IDR": 2, "USD": 2, "SGD": 2, "MYR": 2, "JPY": 0}

# Smallest amount a customer is charged in, in minor units: whole rupiah for IDR.
CHARGE_UNITS: dict[str, int] = {"IDR": 100}


def check_currency(currency: str) -> str:
    if currency not in CURRENCY_EXPONENTS:
        raise InvalidInput(
            f"currency {currency!r} is not supported; use one of "
            + ", ".join(sorted(CURRENCY_EXPONENTS)),
            field="currency",
        )
    return currency


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError("Money.amount must be an int of minor units")
        check_currency(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    def _same(self, other: Money) -> None:
        if self.currency != other.currency:
            raise ValueError(f"currency mismatch: {self.currency} vs {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def is_whole_charge_unit(self) -> bool:
        return self.amount % CHARGE_UNITS.get(self.currency, 1) == 0

    def percent_of(self, basis_points: int) -> Money:
        """`basis_points`/10000 of this amount, rounded half up to the charge unit."""
        unit = CHARGE_UNITS.get(self.currency, 1)
        numerator = self.amount * basis_points
        denominator = 10000 * unit
        units = (2 * numerator + denominator) // (2 * denominator)
        return Money(units * unit, self.currency)

    def as_json(self) -> dict[str, int | str]:
        return {"amount": self.amount, "currency": self.currency}

    def format(self) -> str:
        """`Rp 50.000` style: whole units, dot thousands separator (Indonesian convention)."""
        exponent = CURRENCY_EXPONENTS[self.currency]
        whole, frac = divmod(abs(self.amount), 10**exponent)
        sign = "-" if self.amount < 0 else ""
        grouped = f"{whole:,}".replace(",", ".")
        symbol = "Rp " if self.currency == "IDR" else f"{self.currency} "
        if frac and exponent:
            return f"{sign}{symbol}{grouped},{frac:0{exponent}d}"
        return f"{sign}{symbol}{grouped}"
