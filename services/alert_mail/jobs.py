"""Scheduled work of alert_mail, registered with the kit scheduler."""

from __future__ import annotations

from services.kit.jobs import Job

JOBS: list[Job] = []
