"""Signing up, signing in (password or one-time code), resetting a password, signing out.

Each form POST proves its CSRF token first. The work runs in one transaction that
commits the attempt record whatever the outcome; a refusal is shown after the commit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from kuota.api.deps import WriteTransaction
from kuota.auth import accounts
from kuota.auth import sessions as web_sessions
from kuota.core.errors import KuotaError
from kuota.web.forms import client_address, posted
from kuota.web.pages import describe, redirect, render
from kuota.web.visitor import Visitor, VisitorDep, safe_next

router = APIRouter(include_in_schema=False)
T = TypeVar("T")


async def _attempt(tx: WriteTransaction, work: Callable[[Session], T]) -> T | KuotaError:
    """Run the work; a domain refusal rolls it back and comes back as a value."""
    try:
        return await tx.run(work)
    except KuotaError as exc:
        return exc


async def _sign_in(tx: WriteTransaction, visitor: Visitor, user_id: int, target: str) -> Response:
    """A brand-new session id for the signed-in person (the old cookie is worthless)."""

    def start(session: Session) -> tuple[str, Any]:
        session_id = web_sessions.start(session, user_id)
        return session_id, web_sessions.principal(session, session_id)

    session_id, principal = await tx.run(start)
    visitor.signed_in_as(session_id, principal)
    if target == "/cards" and principal.is_retail:
        target = "/pos"  # a store's people land at the counter, not on subscriber pages
    return redirect(visitor, target)


@router.get("/login")
async def login_form(request: Request, visitor: VisitorDep, next: str = "") -> Response:
    if visitor.signed_in:
        return redirect(visitor, safe_next(next))
    return render(request, visitor, "login.html", next=safe_next(next, ""), error=None, username="")


@router.post("/login")
async def login(request: Request, visitor: VisitorDep, tx: WriteTransaction) -> Response:
    form = await posted(request, visitor)
    ctx = request.app.state.context
    username = form.get("username", "")
    target = safe_next(form.get("next"))
    outcome = await tx.run(
        lambda session: accounts.sign_in_with_password(
            session,
            ctx,
            username=username,
            password=form.get("password", ""),
            address=client_address(request),
        )
    )
    if outcome.error is not None or outcome.user_id is None:
        assert outcome.error is not None
        return render(
            request,
            visitor,
            "login.html",
            status=outcome.error.status if outcome.error.status == 429 else 401,
            next=safe_next(form.get("next"), ""),
            error=describe(visitor, outcome.error),
            username=username,
        )
    return await _sign_in(tx, visitor, outcome.user_id, target)


@router.get("/login/code")
async def code_login_form(request: Request, visitor: VisitorDep, next: str = "") -> Response:
    return render(
        request,
        visitor,
        "login_code.html",
        next=safe_next(next, ""),
        error=None,
        challenge=None,
        msisdn="",
    )


@router.post("/login/code")
async def code_login(request: Request, visitor: VisitorDep, tx: WriteTransaction) -> Response:
    """Step one asks for a code to the card; step two (with `challenge`) checks it."""
    form = await posted(request, visitor)
    ctx = request.app.state.context
    address = client_address(request)
    next_page = safe_next(form.get("next"), "")
    challenge = form.get("challenge", "")
    if not challenge:
        sent = await _attempt(
            tx,
            lambda session: accounts.request_sign_in_code(
                session, ctx, msisdn=form.get("msisdn", ""), locale=visitor.locale, address=address
            ),
        )
        if isinstance(sent, KuotaError):
            return render(
                request,
                visitor,
                "login_code.html",
                status=sent.status,
                next=next_page,
                error=describe(visitor, sent),
                challenge=None,
                msisdn=form.get("msisdn", ""),
            )
        return render(
            request,
            visitor,
            "login_code.html",
            next=next_page,
            error=None,
            challenge=sent,
            msisdn=form.get("msisdn", ""),
        )
    outcome = await tx.run(
        lambda session: accounts.sign_in_with_code(
            session, ctx, code_id=challenge, code=form.get("code", ""), address=address
        )
    )
    if outcome.error is not None or outcome.user_id is None:
        assert outcome.error is not None
        spent = outcome.error.status == 429
        return render(
            request,
            visitor,
            "login_code.html",
            status=outcome.error.status,
            next=next_page,
            error=describe(visitor, outcome.error),
            challenge=None if spent else challenge,
            msisdn=form.get("msisdn", ""),
        )
    return await _sign_in(tx, visitor, outcome.user_id, safe_next(next_page))


@router.get("/register")
async def register_form(request: Request, visitor: VisitorDep) -> Response:
    return render(request, visitor, "register.html", error=None, form={})


@router.post("/register")
async def register(request: Request, visitor: VisitorDep, tx: WriteTransaction) -> Response:
    form = await posted(request, visitor)
    if form.get("password") != form.get("password_again"):
        error: dict[str, str] | None = {
            "message": visitor.translator.gettext("The two passwords are not the same."),
            "detail": "",
            "field": "password_again",
            "slug": "invalid-input",
        }
        return render(request, visitor, "register.html", status=422, error=error, form=form)
    created = await _attempt(
        tx,
        lambda session: accounts.register(
            session,
            email=form.get("email", ""),
            password=form.get("password", ""),
            display_name=form.get("display_name", ""),
            locale=visitor.locale,
        ),
    )
    if isinstance(created, KuotaError):
        return render(
            request,
            visitor,
            "register.html",
            status=created.status,
            error=describe(visitor, created),
            form=form,
        )
    return await _sign_in(tx, visitor, created, "/cards/attach")


@router.get("/password/forgot")
async def forgot_form(request: Request, visitor: VisitorDep) -> Response:
    return render(request, visitor, "password_reset.html", error=None, challenge=None, email="")


@router.post("/password/forgot")
async def forgot(request: Request, visitor: VisitorDep, tx: WriteTransaction) -> Response:
    form = await posted(request, visitor)
    ctx = request.app.state.context
    email = form.get("email", "")
    sent = await _attempt(
        tx,
        lambda session: accounts.request_password_reset(
            session, ctx, email=email, locale=visitor.locale, address=client_address(request)
        ),
    )
    if isinstance(sent, KuotaError):
        return render(
            request,
            visitor,
            "password_reset.html",
            status=sent.status,
            error=describe(visitor, sent),
            challenge=None,
            email=email,
        )
    return render(request, visitor, "password_reset.html", error=None, challenge=sent, email=email)


@router.post("/password/reset")
async def reset(request: Request, visitor: VisitorDep, tx: WriteTransaction) -> Response:
    form = await posted(request, visitor)
    ctx = request.app.state.context
    challenge = form.get("challenge", "")
    outcome = await _attempt(
        tx,
        lambda session: accounts.reset_password(
            session,
            ctx,
            code_id=challenge,
            code=form.get("code", ""),
            password=form.get("password", ""),
            address=client_address(request),
        ),
    )
    error = outcome if isinstance(outcome, KuotaError) else outcome.error
    if error is not None or isinstance(outcome, KuotaError) or outcome.user_id is None:
        assert error is not None
        return render(
            request,
            visitor,
            "password_reset.html",
            status=error.status,
            error=describe(visitor, error),
            challenge=None if error.status == 429 else challenge,
            email=form.get("email", ""),
        )
    return await _sign_in(tx, visitor, outcome.user_id, "/cards")


@router.post("/logout")
async def logout(request: Request, visitor: VisitorDep, tx: WriteTransaction) -> Response:
    await posted(request, visitor)
    if visitor.kind == "s":
        session_id = visitor.session_id
        await tx.run(lambda session: web_sessions.end(session, session_id))
    visitor.signed_out()
    return redirect(visitor, "/login")
