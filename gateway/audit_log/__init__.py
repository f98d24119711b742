"""The gateway's audit log: the hash chain of gateway.audit_chain kept in the database.

`store.AuditLog` is the single writer (access records batched off the hot path, domain events
appended as they arrive, signed checkpoints by policy); `access.AccessAuditMiddleware` records
every request; `gateway.routes.audit` serves it to auditors.
"""
