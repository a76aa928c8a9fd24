import pytest

from kuota.receipts.labels import SUPPORTED_LOCALES, labels_for
from kuota.renewals.models import Channel
from kuota.renewals.service import CHANNEL_METHODS


@pytest.mark.parametrize(
    ("locale", "receipt"),
    [("id", "Struk"), ("en", "Receipt"), ("zh", "收据"), ("en-GB", "Receipt"), ("fr", "Struk")],
)
def test_labels_fall_back_to_indonesian(locale: str, receipt: str) -> None:
    assert labels_for(locale).receipt == receipt


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_every_method_and_channel_sold_through_has_a_name(locale: str) -> None:
    labels = labels_for(locale)
    methods = set().union(*CHANNEL_METHODS.values())
    assert methods <= set(labels.payment_methods)
    assert {channel.value for channel in Channel} == set(labels.channels)
    assert labels.payment_method_name("crypto") == "crypto"  # unknown: shown as stored


def test_validity_reads_naturally() -> None:
    assert labels_for("id").validity_days(7) == "7 hari"
    assert labels_for("en").validity_days(30) == "30 days"
    assert labels_for("zh").validity_days(30) == "30 天"
