import pytest

from kuota.core.errors import LedgerImbalance
from kuota.ledger.rules import Posting, check_balanced


def test_balanced_entry_passes() -> None:
    check_balanced([Posting(1, 500, "IDR"), Posting(2, -300, "IDR"), Posting(3, -200, "IDR")])


@pytest.mark.parametrize(
    ("postings", "message"),
    [
        ([Posting(1, 500, "IDR")], "at least two lines"),
        ([Posting(1, 500, "IDR"), Posting(2, -400, "IDR")], "does not balance"),
        ([Posting(1, 500, "IDR"), Posting(2, -500, "USD")], "does not balance"),
        ([Posting(1, 0, "IDR"), Posting(2, 0, "IDR")], "zero"),
    ],
)
def test_unbalanced_entries_are_refused(postings: list[Posting], message: str) -> None:
    with pytest.raises(LedgerImbalance, match=message):
        check_balanced(postings)
