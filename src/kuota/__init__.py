"""kuota: open prepaid data-plan renewal platform."""

__version__ = "0.1.0"
