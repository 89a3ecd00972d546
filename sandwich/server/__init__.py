"""`sandwich serve`: one process owns the study database and serves overseers and the lead over HTTP."""

from sandwich.server.app import create_app

__all__ = ["create_app"]
