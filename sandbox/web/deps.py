"""Request dependencies: the service object and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from policies.errors import TooManyAttempts, Unauthenticated
from sandbox.access.auth import Principal, authenticate
from sandbox.access.throttle import SignInThrottle
from sandbox.audit import chain as audit
from sandbox.service import Sandbox

_bearer = HTTPBearer(auto_error=False, description="API token: 'Bearer sbx_...'")


def get_sandbox(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


SandboxDep = Annotated[Sandbox, Depends(get_sandbox)]


def signed_in(request: Request, sandbox: Sandbox, token: str | None) -> Principal:
    """:func:`~sandbox.access.auth.authenticate` behind the app's sign-in throttle.

    A valid token is accepted first, without reading the throttle; an invalid one then
    goes through it (counted as an open try, checked again, audited). Only failures
    count (see :mod:`sandbox.access.throttle`). An address at the limit still signs in
    with a valid token (behind a shared proxy, one guesser must not lock everyone out),
    but its failures are answered 429 and no longer audited; each failure that brings
    it to the limit is audited as ``auth.throttled``.

    Raises:
        TooManyAttempts: The address is at the limit and the token is not valid
            (429, ``Retry-After``).
        Unauthenticated: The token is missing, unknown or revoked.
    """
    # A valid token signs in whatever the throttle holds, and leaves no trace in it: one
    # query, no read of the throttle (which every request would otherwise pay for).
    try:
        return authenticate(sandbox.db, token, audit_failure=False)
    except Unauthenticated:
        pass
    throttle: SignInThrottle = request.app.state.sign_in_throttle
    address = request.client.host if request.client else "unknown"
    try:
        stamp = throttle.begin(address)
    except TooManyAttempts as held:
        try:
            return authenticate(sandbox.db, token, audit_failure=False)
        except Unauthenticated:
            raise held from None
    try:
        who = authenticate(sandbox.db, token)
    except Unauthenticated:
        throttle.failed(address, stamp)
        if throttle.reached(address):
            with sandbox.db.session() as session:
                audit.append(sandbox.db, session, "anonymous", "auth.throttled", "address")
        raise
    throttle.succeeded(address, stamp)
    return who


def get_principal(
    request: Request,
    sandbox: SandboxDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    return signed_in(request, sandbox, credentials.credentials if credentials else None)


Caller = Annotated[Principal, Depends(get_principal)]
