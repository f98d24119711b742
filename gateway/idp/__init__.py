"""The gateway's identity provider: accounts, passwords, tokens, TOTP and the mock JPKI."""
