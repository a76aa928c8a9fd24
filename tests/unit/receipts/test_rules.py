from datetime import UTC, datetime

from kuota.receipts.rules import new_receipt_no, receipt_code, receipt_code_matches


def test_receipt_numbers_are_unique_and_dated() -> None:
    now = datetime(2026, 11, 25, tzinfo=UTC)
    numbers = {new_receipt_no(now) for _ in range(2000)}
    assert len(numbers) == 2000
    assert all(n.startswith("KU-2611-") and len(n) == 18 for n in numbers)


def test_code_is_bound_to_number_and_key() -> None:
    code = receipt_code("KU-2611-ABCDEFGHJK", "key")
    assert len(code) == 8
    assert receipt_code_matches("KU-2611-ABCDEFGHJK", code.lower(), "key")
    assert not receipt_code_matches("KU-2611-ABCDEFGHJM", code, "key")
    assert not receipt_code_matches("KU-2611-ABCDEFGHJK", code, "other-key")
