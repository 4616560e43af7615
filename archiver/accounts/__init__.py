"""Accounts and roles: users with KDF-hashed passwords, API tokens, the role table,
rate limits, and which captures a viewer may see (docs/accounts.md)."""
from archiver.accounts.roles import ROLES, Viewer, anonymous_viewer

__all__ = ["ROLES", "Viewer", "anonymous_viewer"]
