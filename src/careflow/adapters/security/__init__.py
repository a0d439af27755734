"""Security adapters: JWT tokens (PyJWT), password hashing (argon2), the local user store."""
