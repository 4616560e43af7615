"""Users and tokens: create, list, disable, log in (with lockout), create and revoke tokens."""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver.accounts.models import ApiToken, User
from archiver.accounts.passwords import check_strength, dummy_hash, hash_password, verify_password
from archiver.accounts.roles import ROLES, Viewer

TOKEN_PREFIX = "arc_"
LAST_USED_EVERY = timedelta(minutes=1)
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,190}")


class AccountError(ValueError):
    pass


def normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not EMAIL.fullmatch(email):
        raise AccountError(f"{email!r} is not an e-mail address")
    return email


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(timezone.utc)


def add_user(session: Session, email: str, role: str, password: str, now: datetime | None = None) -> User:
    email = normalise_email(email)
    if role not in ROLES:
        raise AccountError(f"{role!r} is not a role: use one of {', '.join(ROLES)}")
    check_strength(password)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise AccountError(f"there is already a user {email}")
    user = User(email=email, role=role, password_hash=hash_password(password), active=True,
                failed_logins=0, created_at=_now(now))
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, email: str) -> User | None:
    try:
        email = normalise_email(email)
    except AccountError:
        return None
    return session.scalars(select(User).where(User.email == email)).first()


def users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.id)))


def has_admin(session: Session) -> bool:
    return session.scalar(select(User.id).where(User.role == "admin", User.active.is_(True)).limit(1)) is not None


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    locked_for: float = 0.0      # seconds until the account may try again

    @property
    def ok(self) -> bool:
        return self.user is not None


def authenticate(session: Session, email: str, password: str, lockout_after: int,
                 lockout_seconds: float, now: datetime | None = None) -> LoginResult:
    """Check a password; count bad ones, and lock the account after `lockout_after` in a row.
    A locked account is refused even with the right password until the lock ends."""
    now = _now(now)
    user = find_user(session, email)
    if user is None or not user.active:
        verify_password(password, dummy_hash())
        return LoginResult(None)
    if user.locked_until and user.locked_until > now:
        return LoginResult(None, (user.locked_until - now).total_seconds())
    if not verify_password(password, user.password_hash):
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= lockout_after:
            user.locked_until = now + timedelta(seconds=lockout_seconds)
            user.failed_logins = 0
            return LoginResult(None, lockout_seconds)
        return LoginResult(None)
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    return LoginResult(user)


def session_stamp(user: User) -> str:
    """Kept in the session cookie: a new password (or a disabled account) ends old sessions."""
    return hashlib.sha256(f"{user.id}:{user.password_hash}:{user.active}".encode()).hexdigest()[:24]


def set_password(session: Session, user: User, password: str) -> None:
    check_strength(password)
    user.password_hash = hash_password(password)
    user.failed_logins, user.locked_until = 0, None


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, user: User, name: str, now: datetime | None = None) -> tuple[ApiToken, str]:
    """A new token for `user`; the token itself is returned once and never stored."""
    name = (name or "").strip()
    if not name or len(name) > 255:
        raise AccountError("a token needs a name of 1 to 255 characters, e.g. 'nightly script'")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name, token_sha256=token_digest(token), prefix=token[:10],
                   created_at=_now(now))
    session.add(row)
    session.flush()
    return row, token


def tokens(session: Session, user: User | None = None) -> list[ApiToken]:
    query = select(ApiToken).order_by(ApiToken.id)
    if user is not None:
        query = query.where(ApiToken.user_id == user.id)
    return list(session.scalars(query))


def revoke_token(session: Session, token_id: int, user: User | None = None,
                 now: datetime | None = None) -> ApiToken:
    """Revoke a token (only one of `user`'s when given)."""
    row = session.get(ApiToken, token_id)
    if row is None or (user is not None and row.user_id != user.id):
        raise AccountError(f"no token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = _now(now)
    return row


def viewer_for_token(session: Session, token: str, now: datetime | None = None) -> Viewer | None:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = session.scalars(select(ApiToken).where(ApiToken.token_sha256 == token_digest(token))).first()
    if row is None or row.revoked_at is not None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    now = _now(now)
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_EVERY:
        row.last_used_at = now          # at most once a minute: not a write per request
    return Viewer.of(user.role, email=user.email, user_id=user.id, token_id=row.id, via="token")


def viewer_for_user(user: User) -> Viewer:
    return Viewer.of(user.role, email=user.email, user_id=user.id, via="session")
