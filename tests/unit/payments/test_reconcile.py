import csv
import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kuota.core.errors import InvalidInput
from kuota.core.money import Money
from kuota.payments.gateway import GatewayStatus, SettlementLine
from kuota.payments.reconcile import (
    DIFFERENCE_COLUMNS,
    Difference,
    DifferenceKind,
    InvalidSettlementReport,
    KuotaPayment,
    parse_settlement_csv,
    reconcile,
    write_differences_csv,
    write_settlement_csv,
)

HEADER = "order_id,transaction_id,gross_amount,currency,status,settled_at"
T0 = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


def rupiah(whole: int) -> Money:
    return Money(whole * 100, "IDR")


def paid(payment_id: str, whole_rupiah: int, status: str = "succeeded") -> KuotaPayment:
    return KuotaPayment(payment_id, f"sbx-{payment_id}", rupiah(whole_rupiah), status)


# --- parsing -----------------------------------------------------------------------


def test_a_report_is_read_in_file_order_in_minor_units_and_utc() -> None:
    text = (
        "\ufeff" + HEADER + "\r\n"
        "pay_a,sbx-1,15000,IDR,settlement,2026-11-25T03:00:00Z\r\n"
        "\r\n"
        "pay_b,,50000,IDR,refund,2026-11-25T10:30:00.250+07:00\r\n"
        'pay_c,"sbx-3",1,IDR,expire,2026-11-25 03:00:00z\r\n'
    )
    assert parse_settlement_csv(text) == [
        SettlementLine("pay_a", "sbx-1", Money(1_500_000, "IDR"), GatewayStatus.SUCCEEDED, T0),
        SettlementLine(
            "pay_b",
            None,
            Money(5_000_000, "IDR"),
            GatewayStatus.REFUNDED,
            T0 + timedelta(minutes=30, milliseconds=250),
        ),
        SettlementLine("pay_c", "sbx-3", Money(100, "IDR"), GatewayStatus.EXPIRED, T0),
    ]


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("settlement", GatewayStatus.SUCCEEDED),
        ("refund", GatewayStatus.REFUNDED),
        ("deny", GatewayStatus.FAILED),
        ("cancel", GatewayStatus.FAILED),
        ("failure", GatewayStatus.FAILED),
        ("expire", GatewayStatus.EXPIRED),
        ("pending", GatewayStatus.PENDING),
    ],
)
def test_report_statuses_map_to_gateway_statuses(word: str, status: GatewayStatus) -> None:
    [line] = parse_settlement_csv(f"{HEADER}\npay_a,sbx-1,100,IDR,{word},2026-11-25T03:00:00Z\n")
    assert line.status is status


def test_currency_exponent_is_applied() -> None:
    [line] = parse_settlement_csv(f"{HEADER}\npay_a,t,250,JPY,settlement,2026-11-25T03:00:00Z\n")
    assert line.amount == Money(250, "JPY")


def test_a_report_with_only_a_header_is_empty() -> None:
    assert parse_settlement_csv(HEADER + "\n") == []


GOOD_ROW = "pay_a,sbx-1,15000,IDR,settlement,2026-11-25T03:00:00Z"


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        ("", 1, "header", "expected order_id,transaction_id"),
        ("order_id,amount\n" + GOOD_ROW, 1, "header", "expected order_id"),
        (HEADER.replace("currency,status", "status,currency") + "\n", 1, "header", "expected"),
        (f"{HEADER}\n{GOOD_ROW}\npay_b,sbx-2,15000,IDR,settlement\n", 3, "row", "has 5 columns"),
        (f"{HEADER}\n{GOOD_ROW},extra\n", 2, "row", "has 7 columns, expected 6"),
        (f"{HEADER}\n,sbx-1,15000,IDR,settlement,2026-11-25T03:00:00Z\n", 2, "order_id", "empty"),
        (f"{HEADER}\n{GOOD_ROW.replace('15000', '15000.00')}\n", 2, "gross_amount", "digits"),
        (f"{HEADER}\n{GOOD_ROW.replace('15000', '1.5e4')}\n", 2, "gross_amount", "'1.5e4'"),
        (f"{HEADER}\n{GOOD_ROW.replace('15000', '-15000')}\n", 2, "gross_amount", "digits"),
        (f"{HEADER}\n{GOOD_ROW.replace('15000', '15_000')}\n", 2, "gross_amount", "digits"),
        (f"{HEADER}\n{GOOD_ROW.replace('15000', '١٥٠٠٠')}\n", 2, "gross_amount", "digits"),
        (f"{HEADER}\n{GOOD_ROW.replace('15000', '')}\n", 2, "gross_amount", "digits"),
        (f"{HEADER}\n{GOOD_ROW.replace('15000', '0')}\n", 2, "gross_amount", "is zero"),
        (f"{HEADER}\n{GOOD_ROW.replace('IDR', 'XYZ')}\n", 2, "currency", "'XYZ' is not one of"),
        (f"{HEADER}\n{GOOD_ROW.replace('IDR', 'idr')}\n", 2, "currency", "'idr'"),
        (f"{HEADER}\n{GOOD_ROW.replace('settlement', 'settled')}\n", 2, "status", "'settled'"),
        (
            f"{HEADER}\n{GOOD_ROW.replace('T03:00:00Z', 'T03:00:00')}\n",
            2,
            "settled_at",
            "not an RFC 3339 time",
        ),
        (
            f"{HEADER}\n{GOOD_ROW.replace('2026-11-25T03:00:00Z', '2026-11-25')}\n",
            2,
            "settled_at",
            "not an RFC 3339 time",
        ),
        (
            f"{HEADER}\n{GOOD_ROW.replace('2026-11-25T03:00:00Z', '1732503600')}\n",
            2,
            "settled_at",
            "not an RFC 3339 time",
        ),
        (
            f"{HEADER}\n{GOOD_ROW.replace('2026-11-25', '2026-13-25')}\n",
            2,
            "settled_at",
            "not a valid time",
        ),
        (f'{HEADER}\n{GOOD_ROW}\n{GOOD_ROW}\n"pay_d,sbx', 4, "row", "not valid CSV"),
    ],
)
def test_bad_reports_name_the_line_and_the_field(
    text: str, line: int, field: str, message: str
) -> None:
    with pytest.raises(InvalidSettlementReport, match=message) as caught:
        parse_settlement_csv(text)
    assert str(caught.value).startswith(f"settlement report line {line}, {field}: ")
    assert caught.value.extra == {"line": line, "field": field}
    assert isinstance(caught.value, InvalidInput)


# --- matching ----------------------------------------------------------------------


def planted_report() -> tuple[str, list[KuotaPayment]]:
    """Forty payments that agree with the report, plus one planted difference of each kind
    and the near-misses that must not be reported."""
    rows = [HEADER]
    payments: list[KuotaPayment] = []
    for n in range(30):
        payments.append(paid(f"pay_ok{n:02d}", 10_000 + 1_000 * n))
        rows.append(
            f"pay_ok{n:02d},sbx-pay_ok{n:02d},{10_000 + 1_000 * n},IDR,settlement,{T0:%FT%TZ}"
        )
    for n in range(5):
        payments.append(paid(f"pay_rf{n}", 25_000, "refunded"))
        rows.append(f"pay_rf{n},sbx-pay_rf{n},25000,IDR,refund,{T0:%FT%TZ}")
    payments += [
        # Never collected and absent from the report: not differences.
        paid("pay_pending", 15_000, "pending"),
        paid("pay_failed", 15_000, "failed"),
        paid("pay_expired", 15_000, "expired"),
        paid("pay_unknown", 15_000, "unknown"),
        # Never collected on either side: not differences.
        paid("pay_denied", 15_000, "failed"),
        paid("pay_lapsed", 15_000, "expired"),
        # The planted differences.
        paid("pay_lost", 50_000),  # missing_at_gateway
        paid("pay_short", 15_000),  # amount_mismatch
        paid("pay_dead", 20_000, "expired"),  # status_mismatch: settled at the gateway
        paid("pay_kept", 20_000),  # status_mismatch: refunded at the gateway
        paid("pay_twice", 30_000),  # duplicate_in_report
    ]
    rows += [
        f"pay_denied,sbx-pay_denied,15000,IDR,deny,{T0:%FT%TZ}",
        f"pay_lapsed,,15000,IDR,expire,{T0:%FT%TZ}",
        f"pay_nobody,sbx-9,15000,IDR,expire,{T0:%FT%TZ}",  # unknown order, nothing collected
        f"pay_ghost,sbx-ghost,75000,IDR,settlement,{T0:%FT%TZ}",  # missing_in_kuota
        f"pay_short,sbx-pay_short,10000,IDR,settlement,{T0:%FT%TZ}",
        f"pay_dead,sbx-pay_dead,20000,IDR,settlement,{T0:%FT%TZ}",
        f"pay_kept,sbx-pay_kept,20000,IDR,refund,{T0:%FT%TZ}",
        f"pay_twice,sbx-pay_twice,30000,IDR,settlement,{T0:%FT%TZ}",
        f"pay_twice,sbx-pay_twice-2,30000,IDR,settlement,{T0:%FT%TZ}",
    ]
    return "\n".join(rows) + "\n", payments


def test_planted_differences_are_found_and_nothing_else() -> None:
    text, payments = planted_report()
    differences = reconcile(parse_settlement_csv(text), payments)
    assert [(d.kind, d.order_id) for d in differences] == [
        (DifferenceKind.STATUS_MISMATCH, "pay_dead"),
        (DifferenceKind.MISSING_IN_KUOTA, "pay_ghost"),
        (DifferenceKind.STATUS_MISMATCH, "pay_kept"),
        (DifferenceKind.MISSING_AT_GATEWAY, "pay_lost"),
        (DifferenceKind.AMOUNT_MISMATCH, "pay_short"),
        (DifferenceKind.DUPLICATE_IN_REPORT, "pay_twice"),
    ]
    found = {d.order_id: d for d in differences}
    assert found["pay_dead"] == Difference(
        DifferenceKind.STATUS_MISMATCH,
        "pay_dead",
        "sbx-pay_dead",
        rupiah(20_000),
        rupiah(20_000),
        "succeeded",
        "expired",
        "gateway says succeeded, kuota says expired",
    )
    assert found["pay_ghost"] == Difference(
        DifferenceKind.MISSING_IN_KUOTA,
        "pay_ghost",
        "sbx-ghost",
        rupiah(75_000),
        None,
        "succeeded",
        None,
        "gateway reports succeeded Rp 75.000 but kuota has no such payment",
    )
    assert found["pay_kept"].detail == "gateway says refunded, kuota says succeeded"
    assert found["pay_lost"] == Difference(
        DifferenceKind.MISSING_AT_GATEWAY,
        "pay_lost",
        "sbx-pay_lost",
        None,
        rupiah(50_000),
        None,
        "succeeded",
        "kuota says succeeded but the payment is not in the report",
    )
    assert found["pay_short"].gateway_amount == rupiah(10_000)
    assert found["pay_short"].kuota_amount == rupiah(15_000)
    assert found["pay_short"].detail == "gateway Rp 10.000, kuota Rp 15.000"
    assert found["pay_twice"].detail == (
        "order appears 2 times in the report: "
        "succeeded Rp 30.000 (sbx-pay_twice); succeeded Rp 30.000 (sbx-pay_twice-2)"
    )
    assert found["pay_twice"].kuota_status == "succeeded"


@pytest.mark.parametrize(
    ("gateway_word", "kuota_status"),
    [
        ("settlement", "pending"),  # collected, never fulfilled
        ("settlement", "failed"),
        ("settlement", "unknown"),
        ("settlement", "refunded"),  # kuota refunded; the gateway has no refund
        ("refund", "succeeded"),
        ("refund", "pending"),
        ("deny", "succeeded"),  # kuota fulfilled without the money
        ("expire", "refunded"),
    ],
)
def test_money_moving_on_one_side_only_is_a_status_mismatch(
    gateway_word: str, kuota_status: str
) -> None:
    lines = parse_settlement_csv(f"{HEADER}\npay_a,sbx-1,15000,IDR,{gateway_word},{T0:%FT%TZ}\n")
    [difference] = reconcile(lines, [paid("pay_a", 15_000, kuota_status)])
    assert difference.kind is DifferenceKind.STATUS_MISMATCH
    assert difference.kuota_status == kuota_status


@pytest.mark.parametrize(
    ("gateway_word", "kuota_status"),
    [
        ("settlement", "succeeded"),
        ("refund", "refunded"),
        ("deny", "failed"),
        ("cancel", "expired"),
        ("expire", "unknown"),
        ("pending", "pending"),
    ],
)
def test_agreeing_about_the_money_is_no_difference(gateway_word: str, kuota_status: str) -> None:
    lines = parse_settlement_csv(f"{HEADER}\npay_a,sbx-1,15000,IDR,{gateway_word},{T0:%FT%TZ}\n")
    assert reconcile(lines, [paid("pay_a", 15_000, kuota_status)]) == []


def test_amount_and_status_both_wrong_gives_both() -> None:
    lines = parse_settlement_csv(f"{HEADER}\npay_a,sbx-1,9000,IDR,settlement,{T0:%FT%TZ}\n")
    differences = reconcile(lines, [paid("pay_a", 15_000, "failed")])
    assert [d.kind for d in differences] == [
        DifferenceKind.AMOUNT_MISMATCH,
        DifferenceKind.STATUS_MISMATCH,
    ]


def test_a_currency_difference_is_an_amount_mismatch() -> None:
    lines = parse_settlement_csv(f"{HEADER}\npay_a,sbx-1,150,USD,settlement,{T0:%FT%TZ}\n")
    [difference] = reconcile(lines, [paid("pay_a", 150)])
    assert difference.kind is DifferenceKind.AMOUNT_MISMATCH
    assert difference.detail == "gateway USD 150, kuota Rp 150"


def test_a_duplicate_unknown_to_kuota_says_so() -> None:
    line = SettlementLine("pay_x", "t1", rupiah(5_000), GatewayStatus.SUCCEEDED, T0)
    [difference] = reconcile([line, replace(line, status=GatewayStatus.REFUNDED)], [])
    assert difference.kind is DifferenceKind.DUPLICATE_IN_REPORT
    assert difference.kuota_amount is None
    assert difference.detail.endswith("; kuota has no such payment")
    assert "succeeded Rp 5.000 (t1); refunded Rp 5.000 (t1)" in difference.detail


def test_payments_given_twice_or_with_an_unknown_status_are_programming_errors() -> None:
    with pytest.raises(ValueError, match="payment pay_a given twice"):
        reconcile([], [paid("pay_a", 1), paid("pay_a", 1)])
    with pytest.raises(ValueError, match="unknown status 'settled'"):
        reconcile([], [paid("pay_a", 1, "settled")])


# --- writing -----------------------------------------------------------------------


def test_differences_round_trip_through_csv() -> None:
    text, payments = planted_report()
    differences = reconcile(parse_settlement_csv(text), payments)
    out = io.StringIO()
    write_differences_csv(differences, out)
    rows = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert tuple(rows[0]) == DIFFERENCE_COLUMNS
    assert len(rows) == 1 + len(differences)

    def money(amount: str, currency: str) -> Money | None:
        return Money(int(amount), currency) if amount else None

    read_back = [
        Difference(
            kind=DifferenceKind(row["kind"]),
            order_id=row["order_id"],
            provider_reference=row["provider_reference"] or None,
            gateway_amount=money(row["gateway_amount"], row["gateway_currency"]),
            kuota_amount=money(row["kuota_amount"], row["kuota_currency"]),
            gateway_status=row["gateway_status"] or None,
            kuota_status=row["kuota_status"] or None,
            detail=row["detail"],
        )
        for row in csv.DictReader(io.StringIO(out.getvalue(), newline=""))
    ]
    assert read_back == differences
    missing = next(row for row in rows if row[0] == "missing_at_gateway")
    assert missing[3:7] == ["", "", "5000000", "IDR"]  # amounts in minor units


def test_an_empty_difference_list_writes_only_the_header() -> None:
    out = io.StringIO()
    write_differences_csv([], out)
    assert out.getvalue() == ",".join(DIFFERENCE_COLUMNS) + "\r\n"


def test_text_a_spreadsheet_would_run_is_neutralised() -> None:
    lines = [SettlementLine("=HYPERLINK(1)", "@x", rupiah(1), GatewayStatus.SUCCEEDED, T0)]
    out = io.StringIO()
    write_differences_csv(reconcile(lines, []), out)
    [row] = list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
    assert row["order_id"] == "'=HYPERLINK(1)"
    assert row["provider_reference"] == "'@x"


def test_write_settlement_csv_refuses_fractions_of_a_rupiah() -> None:
    line = SettlementLine("pay_a", None, Money(150, "IDR"), GatewayStatus.SUCCEEDED, T0)
    with pytest.raises(ValueError, match="Rp 1,50 is not whole units"):
        write_settlement_csv([line], io.StringIO())


# --- properties --------------------------------------------------------------------

REPORT_LINE_FOR: dict[str, list[GatewayStatus | None]] = {
    # What an honest gateway's report may hold for a payment in each kuota status:
    # a list of the statuses it may appear with, None meaning "absent".
    "succeeded": [GatewayStatus.SUCCEEDED],
    "refunded": [GatewayStatus.REFUNDED],
    "pending": [None, GatewayStatus.PENDING],
    "failed": [None, GatewayStatus.FAILED],
    "expired": [None, GatewayStatus.EXPIRED, GatewayStatus.FAILED],
    "unknown": [None, GatewayStatus.FAILED, GatewayStatus.EXPIRED],
}


@st.composite
def agreeing_books(draw: st.DrawFn) -> tuple[list[SettlementLine], list[KuotaPayment]]:
    ids = draw(
        st.lists(st.from_regex(r"pay_[0-9A-Z]{1,10}", fullmatch=True), unique=True, max_size=30)
    )
    payments: list[KuotaPayment] = []
    lines: list[SettlementLine] = []
    for payment_id in ids:
        status = draw(st.sampled_from(sorted(REPORT_LINE_FOR)))
        amount = rupiah(draw(st.integers(min_value=1, max_value=10**9)))
        reference = draw(st.one_of(st.none(), st.just(f"sbx-{payment_id}")))
        payments.append(KuotaPayment(payment_id, reference, amount, status))
        gateway_status = draw(st.sampled_from(REPORT_LINE_FOR[status]))
        if gateway_status is not None:
            settled_at = T0 + timedelta(seconds=draw(st.integers(0, 86_399)))
            lines.append(SettlementLine(payment_id, reference, amount, gateway_status, settled_at))
    return draw(st.permutations(lines)), draw(st.permutations(payments))


def through_csv(lines: list[SettlementLine]) -> list[SettlementLine]:
    report = io.StringIO()
    write_settlement_csv(lines, report)
    return parse_settlement_csv(report.getvalue())


@given(agreeing_books())
def test_a_report_generated_from_the_payments_has_no_differences(
    books: tuple[list[SettlementLine], list[KuotaPayment]],
) -> None:
    lines, payments = books
    parsed = through_csv(lines)
    assert parsed == lines
    assert reconcile(parsed, payments) == []


@given(agreeing_books(), st.data())
def test_one_changed_amount_is_exactly_one_amount_mismatch(
    books: tuple[list[SettlementLine], list[KuotaPayment]], data: st.DataObject
) -> None:
    lines, payments = books
    if not lines:
        return
    index = data.draw(st.integers(0, len(lines) - 1))
    changed = replace(lines[index], amount=lines[index].amount + rupiah(1))
    lines = [*lines[:index], changed, *lines[index + 1 :]]
    differences = reconcile(through_csv(lines), payments)
    assert [(d.kind, d.order_id) for d in differences] == [
        (DifferenceKind.AMOUNT_MISMATCH, changed.order_id)
    ]


@given(agreeing_books(), st.data())
def test_the_result_does_not_depend_on_input_order(
    books: tuple[list[SettlementLine], list[KuotaPayment]], data: st.DataObject
) -> None:
    lines, payments = books
    # Drop some report lines and some payments so there are differences to order.
    kept_lines = [line for line in lines if data.draw(st.booleans())]
    kept_payments = [payment for payment in payments if data.draw(st.booleans())]
    first = reconcile(kept_lines, kept_payments)
    again = reconcile(
        data.draw(st.permutations(kept_lines)), data.draw(st.permutations(kept_payments))
    )
    assert first == again
    assert first == sorted(first, key=lambda d: d.order_id)
