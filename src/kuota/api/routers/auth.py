from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.responses import Response

from kuota.api.answers import json_response
from kuota.api.deps import ContextDep, SessionDep
from kuota.auth import service as auth

router = APIRouter(prefix="/auth", tags=["auth"])


class TokenIn(BaseModel):
    username: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=200)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


@router.post("/token", response_model=TokenOut)
def issue_token(body: TokenIn, session: SessionDep, ctx: ContextDep) -> Response:
    """Exchange a username and password for a bearer token."""
    ttl = ctx.settings.token_ttl_seconds
    token = auth.issue_token(
        session, username=body.username, password=body.password, ttl=timedelta(seconds=ttl)
    )
    return json_response({"access_token": token, "token_type": "bearer", "expires_in": ttl})
