"""Instructors only: the accounts of the classroom, and resetting a trainee's login password.

The gate lets only instructors reach these routes (``access.RULES``); in open
mode there are no accounts and both answer 404 with a sentence.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import anyio
from fastapi import APIRouter, HTTPException

from citylab.errors import ClassroomError
from dashboard.deps import AuthDep
from dashboard.models import ERRORS, AccountOut, PasswordReset

router = APIRouter(prefix="/api/accounts", tags=["accounts"], responses=ERRORS)


@router.get("", response_model=list[AccountOut])
def list_accounts(auth: AuthDep, cohort: str | None = None) -> list[dict[str, Any]]:
    """Every account (or one cohort's), instructors first; revoked ones say ``active: false``."""
    return [asdict(account) for account in auth.classroom.accounts(cohort or None)]


@router.post("/{username}/password-reset", response_model=PasswordReset)
async def reset_password(username: str, auth: AuthDep) -> dict[str, Any]:
    """Give ``username`` a new random login password, shown once here, and log out all their browsers."""
    try:
        password = await anyio.to_thread.run_sync(auth.classroom.reset_password, username)
    except ClassroomError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    ended = await anyio.to_thread.run_sync(auth.sessions.delete_user, username)
    return {"username": username, "password": password, "sessions_ended": ended}
