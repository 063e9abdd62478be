"""Who is making a request: sessions, CSRF protection, and later OIDC, join tokens, Matrix."""
