"""`archiver create-admin`, `archiver user ...`, `archiver token ...`: accounts from the shell
(docs/accounts.md). Passwords are prompted, or read from stdin with --password-stdin."""
from __future__ import annotations

import getpass
import sys

from archiver.config import Settings


def add_parser(sub) -> None:
    admin = sub.add_parser("create-admin", help="create an admin account (the first one, say)")
    admin.add_argument("email")
    admin.add_argument("--password-stdin", action="store_true", help="read the password from stdin")

    user = sub.add_parser("user", help="user accounts: add, list, disable, enable, password")
    actions = user.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a user")
    add.add_argument("email")
    add.add_argument("--role", required=True, choices=("admin", "archivist", "researcher"))
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    actions.add_parser("list", help="every user, with role and state")
    for name, text in (("disable", "stop a user logging in (their tokens stop working too)"),
                       ("enable", "let a disabled user log in again"),
                       ("password", "set a new password (ends the user's sessions)")):
        action = actions.add_parser(name, help=text)
        action.add_argument("email")
        if name == "password":
            action.add_argument("--password-stdin", action="store_true")

    token = sub.add_parser("token", help="API tokens: create (shown once), list, revoke")
    taction = token.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = taction.add_parser("create", help="a new token for a user, printed once")
    create.add_argument("email")
    create.add_argument("--name", required=True, help="what it is for, e.g. 'nightly script'")
    listing = taction.add_parser("list", help="tokens (never the tokens themselves)")
    listing.add_argument("email", nargs="?")
    revoke = taction.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("id", type=int)


def _sessions(settings: Settings):
    from archiver.db import make_engine, make_session_factory, migrate
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.database_url)
    return make_session_factory(make_engine(settings.database_url))


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise ValueError("the passwords differ")
    return first


def _fail(message: str) -> int:
    print(f"archiver: {message}", file=sys.stderr)
    return 2


def cmd_create_admin(settings: Settings, args) -> int:
    return _add(settings, args.email, "admin", args.password_stdin)


def _add(settings: Settings, email: str, role: str, password_stdin: bool) -> int:
    from archiver.accounts.passwords import WeakPassword
    from archiver.accounts.service import AccountError, add_user
    from archiver.db import transaction
    try:
        password = _password(password_stdin)
        with transaction(_sessions(settings)) as session:
            user = add_user(session, email, role, password)
            print(f"user {user.id}: {user.email} ({user.role}) created; log in at {settings.public_url}/login")
    except (AccountError, WeakPassword, ValueError) as exc:
        return _fail(str(exc))
    return 0


def cmd_user(settings: Settings, args) -> int:
    from archiver.accounts import service
    from archiver.db import transaction
    if args.action == "add":
        return _add(settings, args.email, args.role, args.password_stdin)
    sessions = _sessions(settings)
    if args.action == "list":
        with sessions() as session:
            for u in service.users(session):
                state = "active" if u.active else "disabled"
                print(f"{u.id}\t{u.email}\t{u.role}\t{state}\t"
                      f"last login {u.last_login_at.isoformat() if u.last_login_at else 'never'}")
        return 0
    try:
        with transaction(sessions) as session:
            user = service.find_user(session, args.email)
            if user is None:
                return _fail(f"no user {args.email}")
            if args.action == "password":
                service.set_password(session, user, _password(args.password_stdin))
            else:
                user.active = args.action == "enable"
            print(f"{user.email}: {args.action}d" if args.action != "password" else f"{user.email}: password set")
    except ValueError as exc:
        return _fail(str(exc))
    return 0


def cmd_token(settings: Settings, args) -> int:
    from archiver.accounts import service
    from archiver.db import transaction
    sessions = _sessions(settings)
    try:
        with transaction(sessions) as session:
            if args.action == "create":
                user = service.find_user(session, args.email)
                if user is None or not user.active:
                    return _fail(f"no active user {args.email}")
                row, token = service.create_token(session, user, args.name)
                print(f"token {row.id} for {user.email} ({args.name}); shown only now:", file=sys.stderr)
                print(token)
            elif args.action == "list":
                user = service.find_user(session, args.email) if args.email else None
                if args.email and user is None:
                    return _fail(f"no user {args.email}")
                for t in service.tokens(session, user):
                    state = f"revoked {t.revoked_at.isoformat()}" if t.revoked_at else "active"
                    print(f"{t.id}\tuser {t.user_id}\t{t.name}\t{t.prefix}…\t{state}\t"
                          f"last used {t.last_used_at.isoformat() if t.last_used_at else 'never'}")
            else:
                row = service.revoke_token(session, args.id)
                print(f"token {row.id} revoked")
    except service.AccountError as exc:
        return _fail(str(exc))
    return 0
