"""The role table: what each role may do, and which permission every endpoint needs.

`ENDPOINTS` names every endpoint of the web app (tests/test_accounts.py fails when one is
missing); `archiver.web.auth` checks it before every request. An endpoint with different
needs per method maps to a {method: permission} dict.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# permissions
PUBLIC = "public"      # anyone, logged in or not, whatever ARCHIVER_ANONYMOUS_ROLE says
ACCOUNT = "account"    # any logged-in user or token: their own tokens
READ = "read"          # search, view and export captures that are public (or visible to them)
SUBMIT = "submit"      # ask for captures; make one's own captures private
WATCH = "watch"        # watches, their runs, deliveries and feeds
ADMIN = "admin"        # users, settings, takedowns; sees every capture

ROLES: dict[str, frozenset[str]] = {
    "researcher": frozenset({READ}),
    "archivist": frozenset({READ, SUBMIT, WATCH}),
    "admin": frozenset({READ, SUBMIT, WATCH, ADMIN}),
}
ANONYMOUS_ROLES = ("none", "researcher", "archivist")

ENDPOINTS: dict[str, str | dict[str, str]] = {
    "static": PUBLIC,
    "ui.about": PUBLIC,
    "openapi.openapi": PUBLIC,
    "auth.login": PUBLIC,
    "auth.logout": PUBLIC,
    "auth.account": ACCOUNT,
    "auth.create_token": ACCOUNT,
    "auth.revoke_token": ACCOUNT,
    "accounts_api.list_tokens": ACCOUNT,
    "accounts_api.create_token": ACCOUNT,
    "accounts_api.revoke_token": ACCOUNT,
    "accounts_api.whoami": ACCOUNT,
    "accounts_api.list_users": ADMIN,
    # importing WARCs of other tools (docs/import.md)
    "import_ui.imports_page": ADMIN,
    "import_ui.upload": ADMIN,
    "import_ui.import_page": ADMIN,
    "import_ui.import_status": ADMIN,
    "imports_api.create_import": ADMIN,
    "imports_api.list_imports": ADMIN,
    "imports_api.get_import": ADMIN,
    # reading the archive
    "ui.index": READ,
    "ui.progress": READ,
    "ui.capture_page": READ,
    "api.list_captures": READ,
    "api.get_capture": READ,
    "api.get_provenance": READ,
    "api.get_text": READ,
    "api.get_screenshot": READ,      # a browser capture's screenshot and DOM (docs/browser-capture.md)
    "api.get_dom": READ,
    "api.get_warc": READ,
    "api.get_wacz": READ,
    "research.search": READ,
    "research.history": READ,
    "research.diff": READ,
    "research_api.search": READ,
    "research_api.search_wacz": READ,
    "research_api.history": READ,
    "research_api.diff": READ,
    "feeds.archive_changes": READ,
    # the evidence log and a capture's evidence (docs/provenance.md); capture ones 404 when hidden
    "evidence_api.log_public_key": PUBLIC,
    "evidence_api.log_head": PUBLIC,
    "evidence_api.log_entry": READ,
    "evidence_api.log_consistency": PUBLIC,
    "evidence_api.capture_verify": READ,
    "evidence_api.capture_bundle": READ,
    "evidence_api.capture_prov": READ,
    "evidence_api.capture_premis": READ,
    "evidence_api.record_describedby": READ,
    # a capture's archived response, raw (docs/replay.md); 404 when hidden
    "raw_replay.raw_memento": READ,
    # adding to it
    "ui.submit": SUBMIT,
    "api.create_captures": SUBMIT,
    # hiding captures: archivists their own (private), admins any (private or taken down);
    # the view checks which (archiver.accounts.visibility.may_restrict)
    "ui.restrict_capture": SUBMIT,
    "ui.unrestrict_capture": SUBMIT,
    "api.restriction": {"GET": READ, "PUT": SUBMIT, "DELETE": SUBMIT},
    # watches
    "feeds.watch_changes": WATCH,
    "watches_ui.list_page": WATCH,
    "watches_ui.watch_page": WATCH,
    "watches_ui.create": WATCH,
    "watches_ui.edit": WATCH,
    "watches_ui.pause": WATCH,
    "watches_ui.resume": WATCH,
    "watches_ui.delete": WATCH,
    "watches_api.list_watches": WATCH,
    "watches_api.add_watch": WATCH,
    "watches_api.get_watch": WATCH,
    "alerts_api.watch_deliveries": WATCH,
    "alerts_api.get_delivery": WATCH,
}


def permission_for(endpoint: str | None, method: str) -> str | None:
    """The permission an endpoint needs for this method; None when it is not in the table."""
    need = ENDPOINTS.get(endpoint or "")
    if isinstance(need, dict):
        return need.get(method, need.get("*"))
    return need


@dataclass(frozen=True)
class Viewer:
    """Who is asking: a logged-in user, a token's user, or an anonymous visitor."""
    role: str                            # admin, archivist, researcher, or "none"
    email: str | None = None
    user_id: int | None = None
    token_id: int | None = None
    via: str = "anonymous"               # anonymous, session, token
    permissions: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, role: str, **kwargs) -> "Viewer":
        return cls(role=role, permissions=ROLES.get(role, frozenset()) | {PUBLIC}
                   | ({ACCOUNT} if kwargs.get("user_id") else frozenset()), **kwargs)

    def may(self, permission: str) -> bool:
        return permission in self.permissions

    @property
    def logged_in(self) -> bool:
        return self.user_id is not None

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.permissions

    @property
    def submitted_by(self) -> str | None:
        """What a capture's provenance records as its submitter."""
        if self.token_id is not None:
            return f"{self.email} (token {self.token_id})"
        return self.email

    def agent(self) -> dict:
        """This viewer as the agent of an evidence-log event."""
        return {"kind": "user", "email": self.email, "role": self.role, "via": self.via,
                "token_id": self.token_id}


def anonymous_viewer(anonymous_role: str) -> Viewer:
    return Viewer.of(anonymous_role)


def owner_of(submitted_by: str | None) -> str | None:
    """The e-mail address in a capture's `submitted_by` (see Viewer.submitted_by)."""
    if not submitted_by:
        return None
    return submitted_by.split(" (token ", 1)[0]
