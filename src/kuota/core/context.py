"""What a service needs besides its session: settings, the clock and the providers."""

from __future__ import annotations

from dataclasses import dataclass, field

from kuota.core.clock import Clock
from kuota.core.config import Settings


@dataclass
class Context:
    settings: Settings
    clock: Clock
    # House-account ids by code, filled on first use; they never change once created.
    account_ids: dict[str, int] = field(default_factory=dict)

    @property
    def secret_key(self) -> str:
        return self.settings.secret_key
