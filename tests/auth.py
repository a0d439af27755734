"""Bearer tokens for tests: signed with the app's own secret, as the token endpoint would."""

from __future__ import annotations

from careflow.adapters.security.tokens import DEFAULT_SCOPE, TokenIssuer
from careflow.bootstrap import App
from careflow.config import Settings

__all__ = ["auth_headers", "token_for"]


def token_for(settings: Settings | App, role: str | list[str], *, subject: str | None = None,
              sites: list[str] | None = None, scopes: str = DEFAULT_SCOPE) -> str:
    """A valid token for ``role`` (one or several), limited to ``sites`` when given."""
    if isinstance(settings, App):
        settings = settings.settings
    roles = [role] if isinstance(role, str) else list(role)
    issuer = TokenIssuer.from_settings(settings)
    return issuer.issue(subject or f"u-{roles[0]}", roles, scopes=scopes, sites=sites)


def auth_headers(settings: Settings | App, role: str | list[str] = "admin",
                 **kwargs: object) -> dict[str, str]:
    """``{"Authorization": "Bearer ..."}`` for ``role``."""
    return {"Authorization": f"Bearer {token_for(settings, role, **kwargs)}"}  # type: ignore[arg-type]
