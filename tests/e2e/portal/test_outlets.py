"""The store locator over HTTP: the public JSON API and the page, on the demo data."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

MONAS = {"lat": "-6.1754", "lon": "106.8272"}


def listed(html: str) -> list[str]:
    return re.findall(r'<li class="plan" data-code="([^"]+)"', html)


def test_the_api_lists_outlets_nearest_first_without_login(client: TestClient) -> None:
    answer = client.get("/api/v1/outlets", params=MONAS)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    found = answer.json()
    assert [o["code"] for o in found] == ["KSK-0001", "RTL-0001", "RTL-0002", "RTL-0101"]
    kiosk, bandung = found[0], found[-1]
    assert kiosk["kind"] == "kiosk" and kiosk["always_open"] is True and kiosk["open_now"]
    assert bandung["retailer"] == "Toko Anggrek" and 119 < bandung["distance_km"] < 120
    assert bandung["hours"] == {
        "days": [1, 2, 3, 4, 5, 6, 7],
        "opens_at": "08:00",
        "closes_at": "21:00",
    }


def test_the_api_filters_by_city_and_code(client: TestClient) -> None:
    bandung = client.get("/api/v1/outlets", params={"city": "bandung"}).json()
    assert [o["code"] for o in bandung] == ["RTL-0101"]
    assert bandung[0]["distance_km"] is None
    one = client.get("/api/v1/outlets", params={"code": "KSK-0001"}).json()
    assert [o["code"] for o in one] == ["KSK-0001"]
    assert client.get("/api/v1/outlets", params={"city": "Surabaya"}).json() == []
    assert len(client.get("/api/v1/outlets", params={"limit": 2}).json()) == 2


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lat": "91", "lon": "106.8"}, "lat"),
        ({"lat": "-6.2", "lon": "-181"}, "lon"),
        ({"lat": "-6.2"}, "lon"),
        ({"lon": "106.8"}, "lat"),
        ({"lat": "north", "lon": "106.8"}, "lat"),
        ({"limit": "0"}, "limit"),
        ({"limit": "500"}, "limit"),
    ],
)
def test_the_api_names_the_bad_field(
    client: TestClient, params: dict[str, str], field: str
) -> None:
    refused = client.get("/api/v1/outlets", params=params)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["type"].endswith("/invalid-input")
    named = problem.get("field") or problem["errors"][0]["field"]
    assert named == field


def test_the_api_is_documented(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/outlets" in spec["paths"]
    assert "/outlets" not in spec["paths"]  # the page is not part of the API


def test_the_page_lists_every_outlet_without_javascript(client: TestClient) -> None:
    page = client.get("/outlets", params={"lang": "en"})
    assert page.status_code == 200
    assert listed(page.text) == ["RTL-0101", "KSK-0001", "RTL-0001", "RTL-0002"]
    assert "Open 24/7" in page.text
    assert "Open now" in page.text  # the kiosk, whatever the hour
    assert 'href="/authorised?code=RTL-0001"' in page.text
    # The location button appears only where a script can use it.
    assert '<form method="get" action="/outlets" id="near" hidden>' in page.text


def test_the_page_searches_by_city(client: TestClient) -> None:
    page = client.get("/outlets", params={"city": "BANDUNG", "lang": "en"})
    assert listed(page.text) == ["RTL-0101"]
    assert 'value="BANDUNG"' in page.text
    none = client.get("/outlets", params={"city": "Surabaya", "lang": "en"})
    assert none.status_code == 200 and listed(none.text) == []
    assert "No authorised store or kiosk found" in none.text


def test_the_page_sorts_by_the_position_the_browser_gave(client: TestClient) -> None:
    page = client.get("/outlets", params={**MONAS, "lang": "en"})
    assert listed(page.text) == ["KSK-0001", "RTL-0001", "RTL-0002", "RTL-0101"]
    assert "Nearest to you first." in page.text
    assert "119.5 km away" in page.text
    # An empty position (the hidden fields without a script) is no position.
    assert listed(client.get("/outlets", params={"lat": "", "lon": ""}).text)[0] == "RTL-0101"


@pytest.mark.parametrize("params", [{"lat": "95", "lon": "0"}, {"lat": "x", "lon": "0"}])
def test_the_page_refuses_a_bad_position(client: TestClient, params: dict[str, str]) -> None:
    page = client.get("/outlets", params={**params, "lang": "en"})
    assert page.status_code == 422
    assert 'data-error="invalid-input"' in page.text
    assert "latitude" in page.text
    assert listed(page.text) == []


@pytest.mark.parametrize("lang", ["id", "en", "zh"])
def test_the_page_renders_in_each_language(client: TestClient, lang: str) -> None:
    page = client.get("/outlets", params={**MONAS, "lang": lang})
    assert page.status_code == 200
    assert f'<html lang="{lang}">' in page.text
    assert len(listed(page.text)) == 4


def test_the_authorised_check_uses_the_same_lookup(client: TestClient) -> None:
    check = client.get("/authorised", params={"lang": "en"})
    assert 'href="/outlets"' in check.text
    store = client.get("/authorised", params={"code": "rtl-0002", "lang": "en"})
    assert store.status_code == 200 and 'data-verdict="authorised"' in store.text
    assert "Toko Melati Kemang" in store.text
    kiosk = client.get("/authorised", params={"code": "KSK-0001", "lang": "en"})
    assert kiosk.status_code == 200 and "Stasiun Gambir, Jakarta" in kiosk.text
    unknown = client.get("/authorised", params={"code": "RTL-9999", "lang": "en"})
    assert unknown.status_code == 404 and 'data-verdict="not-authorised"' in unknown.text
