"""The demo data of CONTRACT.md, loaded into an empty database by `kuota demo`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, update
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
    ("retailer owner (Toko Melati)", "melati-owner", "demo-owner-1"),
    ("retailer staff of another retailer (RTL-0101)", "toko-anggrek", "demo-retail-2"),
]


@dataclass(frozen=True, slots=True)
class DemoStore:
    code: str
    name: str
    city: str
    address: str
    latitude: float
    longitude: float
    opens_at: str = "08:00"
    closes_at: str = "21:00"


@dataclass(frozen=True, slots=True)
class DemoRetailer:
    code: str
    name: str
    commission_basis_points: int
    float_rupiah: int
    stores: tuple[DemoStore, ...]
    staff: tuple[tuple[str, str, int], ...]  # username, password, index of their store
    owner: tuple[str, str] | None = None


DEMO_RETAILERS = (
    DemoRetailer(
        code="RTL",
        name="Toko Melati",
        commission_basis_points=500,
        float_rupiah=5_000_000,
        stores=(
            DemoStore(
                "RTL-0001",
                "Toko Melati",
                "Jakarta",
                "Jl. Melati No. 1, Jakarta Pusat",
                -6.1862,
                106.8341,
            ),
            DemoStore(
                "RTL-0002",
                "Toko Melati Kemang",
                "Jakarta",
                "Jl. Kemang Raya No. 12",
                -6.2615,
                106.8132,
                "09:00",
                "22:00",
            ),
        ),
        staff=(("toko-melati", "demo-retail-1", 0),),
        owner=("melati-owner", "demo-owner-1"),
    ),
    DemoRetailer(
        code="ANG",
        name="Toko Anggrek",
        commission_basis_points=400,
        float_rupiah=1_000_000,
        stores=(
            DemoStore(
                "RTL-0101",
                "Toko Anggrek",
                "Bandung",
                "Jl. Braga No. 5, Bandung",
                -6.9175,
                107.6091,
            ),
        ),
        staff=(("toko-anggrek", "demo-retail-2", 0),),
    ),
)
DEMO_KIOSK = ("KSK-0001", "demo-kiosk-key-1")
DEMO_NETWORK_KEY = "demo-network-key-1"
DEMO_RADIUS_SECRET = "testing123"

PLANS = [
    ("DATA-1GB-7D", "Data 1 GB / 7 hari", 15_000, 1 * GB, 7),
    ("DATA-5GB-30D", "Data 5 GB / 30 hari", 50_000, 5 * GB, 30),
    ("DATA-20GB-30D", "Data 20 GB / 30 hari", 120_000, 20 * GB, 30),
]


def _load_retailer(session: Session, ctx: Context, retailer: DemoRetailer, now: datetime) -> None:
    currency = ctx.settings.currency
    retailer_id = session.execute(
        insert(Retailer)
        .values(
            code=retailer.code,
            name=retailer.name,
            commission_basis_points=retailer.commission_basis_points,
            created_at=now,
        )
        .returning(Retailer.id)
    ).scalar_one()
    store_ids = [
        session.execute(
            insert(Store)
            .values(
                retailer_id=retailer_id,
                code=store.code,
                name=store.name,
                city=store.city,
                address=store.address,
                latitude=store.latitude,
                longitude=store.longitude,
                open_days="1234567",
                opens_at=store.opens_at,
                closes_at=store.closes_at,
                printer=f"file:receipts-{store.code}.escpos",
                is_authorised=True,
                created_at=now,
            )
            .returning(Store.id)
        ).scalar_one()
        for store in retailer.stores
    ]
    for username, password, store_index in retailer.staff:
        auth.create_user(
            session,
            username=username,
            password=password,
            role=Role.RETAIL_STAFF,
            display_name=f"{retailer.name} staff",
            now=now,
            store_id=int(store_ids[store_index]),
        )
    if retailer.owner is not None:
        owner_id = auth.create_user(
            session,
            username=retailer.owner[0],
            password=retailer.owner[1],
            role=Role.RETAIL_OWNER,
            display_name=f"{retailer.name} owner",
            now=now,
        )
        session.execute(update(User).where(User.id == owner_id).values(retailer_id=retailer_id))
    float_account = ledger.open_retailer_float(
        session, retailer_id=int(retailer_id), currency=currency, now=now
    )
    ledger.move_guarded(
        session,
        ctx,
        account_id=float_account,
        amount=Money(retailer.float_rupiah * 100, currency),
        house="retailer_deposits",
        kind="float_deposit",
        reference=retailer.code,
        memo="demo opening float",
    )


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
    for retailer in DEMO_RETAILERS:
        _load_retailer(session, ctx, retailer, now)
    session.execute(
        insert(Kiosk).values(
            code=DEMO_KIOSK[0],
            location="Stasiun Gambir, Jakarta",
            city="Jakarta",
            latitude=-6.1767,
            longitude=106.8306,
            api_key_hash=hash_token(DEMO_KIOSK[1]),
            printer="file:kiosk-KSK-0001.escpos",
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
