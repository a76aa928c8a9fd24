"""The demo data of CONTRACT.md, loaded into an empty database by `kuota demo`."""

from __future__ import annotations

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from kuota.auth import service as auth
from kuota.auth.models import Role, User
from kuota.cards import service as cards
from kuota.catalog import service as catalog
from kuota.core.context import Context
from kuota.core.money import Money
from kuota.core.security import hash_token
from kuota.kiosks.models import Kiosk
from kuota.ledger import service as ledger
from kuota.retail.models import Retailer, Store
from kuota.usage.models import NetworkElement, RadiusClient

GB = 10**9

DEMO_LOGINS = [
    ("operator admin", "admin", "demo-admin-1"),
    ("subscriber", "demo@kuota.example", "demo-user-1"),
    ("second subscriber", "demo2@kuota.example", "demo-user-2"),
    ("retailer staff (RTL-0001)", "toko-melati", "demo-retail-1"),
]
DEMO_KIOSK = ("KSK-0001", "demo-kiosk-key-1")
DEMO_NETWORK_KEY = "demo-network-key-1"
DEMO_RADIUS_SECRET = "testing123"

PLANS = [
    ("DATA-1GB-7D", "Data 1 GB / 7 hari", 15_000, 1 * GB, 7),
    ("DATA-5GB-30D", "Data 5 GB / 30 hari", 50_000, 5 * GB, 30),
    ("DATA-20GB-30D", "Data 20 GB / 30 hari", 120_000, 20 * GB, 30),
]


def is_empty(session: Session) -> bool:
    return session.execute(select(func.count()).select_from(User)).scalar_one() == 0


def load(session: Session, ctx: Context) -> None:
    """Create the demo operator, subscribers, cards, store, kiosk and plans."""
    now = ctx.clock.now()
    currency = ctx.settings.currency
    for code, name, rupiah, data_bytes, days in PLANS:
        catalog.publish_plan(
            session,
            code=code,
            name=name,
            price=Money(rupiah * 100, currency),
            data_bytes=data_bytes,
            validity_days=days,
            now=now,
        )
    auth.create_user(
        session,
        username="admin",
        password="demo-admin-1",
        role=Role.ADMIN,
        display_name="Operator admin",
        now=now,
        locale="en",
    )
    user1 = auth.create_user(
        session,
        username="demo@kuota.example",
        password="demo-user-1",
        role=Role.SUBSCRIBER,
        display_name="Siti Rahayu",
        now=now,
        email="demo@kuota.example",
    )
    user2 = auth.create_user(
        session,
        username="demo2@kuota.example",
        password="demo-user-2",
        role=Role.SUBSCRIBER,
        display_name="Budi Santoso",
        now=now,
        email="demo2@kuota.example",
    )
    retailer_id = session.execute(
        insert(Retailer)
        .values(code="RTL", name="Toko Melati", commission_basis_points=500, created_at=now)
        .returning(Retailer.id)
    ).scalar_one()
    store_id = session.execute(
        insert(Store)
        .values(
            retailer_id=retailer_id,
            code="RTL-0001",
            name="Toko Melati",
            city="Jakarta",
            address="Jl. Melati No. 1, Jakarta Pusat",
            is_authorised=True,
            created_at=now,
        )
        .returning(Store.id)
    ).scalar_one()
    auth.create_user(
        session,
        username="toko-melati",
        password="demo-retail-1",
        role=Role.RETAIL_STAFF,
        display_name="Toko Melati staff",
        now=now,
        store_id=int(store_id),
    )
    float_account = ledger.open_retailer_float(
        session, retailer_id=int(retailer_id), currency=currency, now=now
    )
    ledger.move_guarded(
        session,
        ctx,
        account_id=float_account,
        amount=Money(5_000_000 * 100, currency),
        house="retailer_deposits",
        kind="float_deposit",
        reference="RTL",
        memo="demo opening float",
    )
    session.execute(
        insert(Kiosk).values(
            code=DEMO_KIOSK[0],
            location="Stasiun Gambir, Jakarta",
            api_key_hash=hash_token(DEMO_KIOSK[1]),
            is_authorised=True,
            created_at=now,
        )
    )
    session.execute(
        insert(NetworkElement).values(
            name="demo packet gateway", key_hash=hash_token(DEMO_NETWORK_KEY), created_at=now
        )
    )
    for address in ("127.0.0.1", "::1"):
        session.execute(
            insert(RadiusClient).values(
                address=address,
                name="demo access server",
                secret=DEMO_RADIUS_SECRET,
                created_at=now,
            )
        )
    for msisdn, owner, owner_name, rupiah, nik in (
        ("+6281100000001", user1, "Siti Rahayu", 200_000, "3171010101900001"),
        ("+6281100000002", user1, "Siti Rahayu", 0, None),
        ("+6281100000003", user2, "Budi Santoso", 50_000, None),
        # Sold at a store and not yet on anyone's account: a new subscriber attaches it.
        ("+6281100000004", None, "Dewi Lestari", 10_000, None),
    ):
        card_id = cards.register_card(
            session,
            msisdn=msisdn,
            currency=currency,
            now=now,
            secret_key=ctx.secret_key,
            owner_user_id=owner,
            owner_name=owner_name,
            nik=nik,
        )
        if rupiah:
            ledger.move_guarded(
                session,
                ctx,
                account_id=ledger.card_account_id(session, card_id),
                amount=Money(rupiah * 100, currency),
                house="balance_adjustments",
                kind="adjustment",
                reference=msisdn,
                memo="demo opening balance",
            )
