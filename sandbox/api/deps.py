"""Request dependencies: the service object and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sandbox.auth import Principal, authenticate
from sandbox.service import Sandbox

_bearer = HTTPBearer(auto_error=False, description="API token: 'Bearer sbx_...'")


def get_sandbox(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


SandboxDep = Annotated[Sandbox, Depends(get_sandbox)]


def get_principal(
    sandbox: SandboxDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    return authenticate(sandbox.db, credentials.credentials if credentials else None)


Caller = Annotated[Principal, Depends(get_principal)]
