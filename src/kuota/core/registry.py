"""Imports every model module so `Base.metadata` knows all tables (Alembic, tests)."""

from kuota.auth import models as _auth  # noqa: F401
from kuota.cards import models as _cards  # noqa: F401
from kuota.catalog import models as _catalog  # noqa: F401
from kuota.core import models as _core  # noqa: F401
from kuota.core.db import Base
from kuota.kiosks import models as _kiosks  # noqa: F401
from kuota.ledger import models as _ledger  # noqa: F401
from kuota.notify import models as _notify  # noqa: F401
from kuota.payments import models as _payments  # noqa: F401
from kuota.renewals import models as _renewals  # noqa: F401
from kuota.retail import models as _retail  # noqa: F401
from kuota.usage import models as _usage  # noqa: F401

metadata = Base.metadata
