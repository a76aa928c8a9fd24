"""Every page renders in every language, says which in <html lang>, and remembers it."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from portal_helpers import ALICE_CARD, renew, sign_in

PUBLIC = [
    "/",
    "/plans",
    "/login",
    "/login/code",
    "/register",
    "/password/forgot",
    "/verify",
    "/authorised",
    "/authorised?code=RTL-0001",
    "/dev/mailbox",
]
SIGNED_IN = [
    "/cards",
    "/cards/attach",
    f"/cards/{ALICE_CARD}",
    f"/cards/{ALICE_CARD}/renew",
    f"/cards/{ALICE_CARD}/top-up",
    "/history",
]


@pytest.mark.parametrize("lang", ["id", "en", "zh"])
def test_every_page_renders_in_each_language(client: TestClient, lang: str) -> None:
    for path in PUBLIC:
        page = client.get(path, params={"lang": lang})
        assert page.status_code == 200, (path, page.text[:300])
        assert f'<html lang="{lang}">' in page.text, path
    assert sign_in(client).status_code == 303
    sold = renew(client)
    pages = [*SIGNED_IN, sold.headers["location"]]
    for path in pages:
        page = client.get(path, params={"lang": lang})
        assert page.status_code == 200, (path, page.text[:300])
        assert f'<html lang="{lang}">' in page.text, path


def test_the_language_choice_is_remembered(client: TestClient) -> None:
    assert '<html lang="id">' in client.get("/plans").text  # Bahasa Indonesia by default
    client.get("/plans", params={"lang": "zh"})
    assert '<html lang="zh">' in client.get("/login").text
    assert sign_in(client).status_code == 303
    client.get("/cards", params={"lang": "en"})
    client.cookies.delete("kuota_lang")
    # Signed in, the account remembers it too, and messages follow it.
    assert '<html lang="en">' in client.get("/cards").text


def test_amounts_follow_the_locale(client: TestClient) -> None:
    assert "Rp 15.000" in client.get("/plans", params={"lang": "id"}).text
    assert "Rp 15,000" in client.get("/plans", params={"lang": "en"}).text
    unknown = client.get("/plans", params={"lang": "xx"})
    assert re.search(r'<html lang="(id|en)">', unknown.text)


def test_history_filters_and_csv(client: TestClient) -> None:
    assert sign_in(client).status_code == 303
    assert renew(client).status_code == 303
    assert renew(client, plan="DATA-5GB-30D", method="qris").status_code == 303
    everything = client.get("/history").text
    assert everything.count("<tr data-kind=") == 2
    done = client.get("/history", params={"status": "fulfilled"}).text
    assert done.count('data-status="fulfilled"') == 1
    assert 'data-status="pending_payment"' not in done
    assert client.get("/history", params={"kind": "top_up"}).text.count("<tr data-kind=") == 0
    today = client.get("/history", params={"since": "2020-01-01", "until": "2099-12-31"})
    assert today.text.count("<tr data-kind=") == 2
    rows = client.get("/history.csv", params={"status": "fulfilled"}).text.strip().splitlines()
    assert rows[0].startswith("created_at,kind,id,msisdn")
    assert len(rows) == 2 and ",15000," in rows[1]
    for bad in ({"since": "yesterday"}, {"kind": "refund"}, {"status": "lost"}):
        refused = client.get("/history", params=bad)
        assert refused.status_code == 422, bad
        assert 'data-error="invalid-input"' in refused.text
