"""Who is at the browser: the signed cookie, the CSRF token, the language.

The session cookie is `a.<id>.<sig>` for a visitor who has not signed in (nothing is
stored for them) and `s.<id>.<sig>` after signing in (the id's hash is in
`web_sessions`). The signature is an HMAC under the secret key, so a forged or
altered cookie is discarded before the database is asked. The CSRF token is an HMAC
of the session id: it changes whenever the session does, and every form POST must
carry it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from kuota.auth import sessions
from kuota.core.context import Context
from kuota.core.db import Database
from kuota.core.errors import CsrfRejected
from kuota.core.principal import Principal
from kuota.web import i18n

SESSION_COOKIE = "kuota_session"
LANG_COOKIE = "kuota_lang"
_LANG_MAX_AGE = 365 * 24 * 3600


def _sign(secret: str, value: str) -> str:
    return hmac.new(secret.encode(), b"cookie:" + value.encode(), hashlib.sha256).hexdigest()[:32]


def seal(secret: str, kind: str, session_id: str) -> str:
    value = f"{kind}.{session_id}"
    return f"{value}.{_sign(secret, value)}"


def unseal(secret: str, raw: str | None) -> tuple[str, str] | None:
    if not raw or raw.count(".") != 2:
        return None
    kind, session_id, signature = raw.split(".")
    if kind not in ("a", "s") or not hmac.compare_digest(
        signature, _sign(secret, f"{kind}.{session_id}")
    ):
        return None
    return kind, session_id


@dataclass
class Visitor:
    kind: str  # "a" anonymous, "s" signed in
    session_id: str
    secret: str
    secure: bool
    principal: Principal | None = None
    locale: str = i18n.DEFAULT_LOCALE
    new_locale: str | None = None
    fresh_cookie: bool = False
    _clear: bool = field(default=False, repr=False)

    @property
    def csrf_token(self) -> str:
        digest = hmac.new(self.secret.encode(), b"csrf:" + self.session_id.encode(), hashlib.sha256)
        return digest.hexdigest()[:40]

    @property
    def signed_in(self) -> bool:
        return self.principal is not None

    @property
    def translator(self) -> i18n.Translator:
        return i18n.Translator(self.locale)

    def check_csrf(self, token: object) -> None:
        if not isinstance(token, str) or not hmac.compare_digest(token, self.csrf_token):
            raise CsrfRejected(
                "this form has expired or did not come from this site; reload the page and "
                "send it again"
            )

    def signed_in_as(self, session_id: str, principal: Principal) -> None:
        """A new session id on every sign-in: whatever id the browser had before is gone."""
        self.kind, self.session_id, self.principal = "s", session_id, principal
        self.fresh_cookie = True

    def signed_out(self) -> None:
        self.kind, self.session_id, self.principal = "a", secrets.token_urlsafe(24), None
        self.fresh_cookie = True

    def finish(self, response: Response) -> Response:
        if self.fresh_cookie:
            response.set_cookie(
                SESSION_COOKIE,
                seal(self.secret, self.kind, self.session_id),
                httponly=True,
                samesite="lax",
                secure=self.secure,
                path="/",
            )
        if self.new_locale:
            response.set_cookie(
                LANG_COOKIE,
                self.new_locale,
                max_age=_LANG_MAX_AGE,
                httponly=True,
                samesite="lax",
                secure=self.secure,
                path="/",
            )
        response.headers.setdefault("Cache-Control", "no-store")
        return response


async def get_visitor(request: Request) -> Visitor:
    ctx: Context = request.app.state.context
    db: Database = request.app.state.db
    secret = ctx.secret_key
    secure = ctx.settings.public_url.startswith("https://")
    sealed = unseal(secret, request.cookies.get(SESSION_COOKIE))
    visitor = Visitor("a", secrets.token_urlsafe(24), secret, secure, fresh_cookie=True)
    if sealed is not None:
        kind, session_id = sealed
        visitor = Visitor(kind, session_id, secret, secure)
        if kind == "s":

            def lookup() -> Principal | None:
                with db.unit_of_work(write=False) as session:
                    return sessions.principal(session, session_id)

            visitor.principal = await run_in_threadpool(lookup)
            if visitor.principal is None:
                visitor.signed_out()
    asked = i18n.pick(request.query_params.get("lang"))
    remembered = i18n.pick(request.cookies.get(LANG_COOKIE))
    own = visitor.principal.locale if visitor.principal else None
    visitor.locale = asked or remembered or i18n.pick(own) or i18n.DEFAULT_LOCALE
    if asked and asked != remembered:
        visitor.new_locale = asked
    if asked and visitor.principal is not None and asked != own:
        user_id = visitor.principal.id

        def remember() -> None:
            with db.unit_of_work() as session:
                sessions.remember_locale(session, user_id, asked)

        await run_in_threadpool(remember)
    return visitor


VisitorDep = Annotated[Visitor, Depends(get_visitor)]


def safe_next(target: str | None, default: str = "/cards") -> str:
    """Only a path on this site: `//evil.example`, `https://…` and `\\\\` tricks fall back."""
    if not target:
        return default
    target = target.strip()
    parts = urlsplit(target)
    if (
        parts.scheme
        or parts.netloc
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 32 for c in target)
    ):
        return default
    return target
