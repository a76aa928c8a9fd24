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
