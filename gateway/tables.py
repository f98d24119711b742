"""The gateway's own tables (gateway Alembic history under gateway/migrations).

The audit log's tables live with it in gateway.audit_log.tables; they are named here so that
importing this module registers every gateway table.
"""

from __future__ import annotations

from gateway.audit_log.tables import AuditChainHead, AuditCheckpointRecord, AuditEventRecord

__all__ = ["AuditChainHead", "AuditCheckpointRecord", "AuditEventRecord"]
