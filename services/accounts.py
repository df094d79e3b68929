"""Accounts (tài khoản): sign-in with a password, resolved to the one ``Scope`` every adapter
checks (services/scope.py), so a page and an API call are allowed exactly the same things."""

from __future__ import annotations

from store.users import authenticate

__all__ = ["authenticate"]
