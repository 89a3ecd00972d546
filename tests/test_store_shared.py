"""The statements both stores share (`sandwich/store/shared_sql.py`: looks, tokens, audit) behave the same
on DuckDB and PostgreSQL: each record comes back exactly as written, in the documented order."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sandwich.store import open_store
from sandwich.store.records import AuditRecord, LookRecord, TokenRecord

T0 = datetime(2026, 11, 30, 2, 0, 0)


def test_looks_tokens_and_audit_round_trip_on_every_store(mc_study: Path | str) -> None:
    st = open_store(mc_study)
    try:
        looks = [
            LookRecord(T0 + timedelta(minutes=2), "export", "lead", 5, 108, "abc"),
            LookRecord(T0, "analyze", "ana's lead ? %s", 0, 108, None),
        ]  # a ? or %s in a value stays a value
        for look in looks:
            st.add_look(look)
        assert st.looks() == looks[::-1]  # oldest first

        tokens = [
            TokenRecord("t2", "salt2", "hash2", "ben", "overseer", T0 + timedelta(seconds=1)),
            TokenRecord("t1", "salt1", "hash1", "lead", "lead", T0),
        ]
        for token in tokens:
            st.add_token(token)
        st.revoke_token("t2")
        assert st.tokens() == [
            tokens[1],
            TokenRecord("t2", "salt2", "hash2", "ben", "overseer", T0 + timedelta(seconds=1), revoked=True),
        ]

        old = AuditRecord("unauthorized", None, None, "GET", "/items", 401, "10.0.0.1", {"why": "no token"}, ts=T0)
        st.add_audit(old)
        st.add_audit(AuditRecord("forbidden", "ben", "overseer", "POST", "/admin", 403, None, None))  # stamped now
        newest, oldest = st.audit(10)
        assert oldest == old
        assert (newest.event, newest.subject, newest.status, newest.detail) == ("forbidden", "ben", 403, None)
        assert newest.ts is not None and abs(newest.ts - datetime.utcnow()) < timedelta(minutes=5)  # UTC, no zone
        assert st.audit(1) == [newest]
    finally:
        st.close()
