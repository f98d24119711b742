"""Request and response models of e_application (separate from the tables)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

Assurance = Literal["anonymous", "email", "password", "jpki"]


class ProcedureRead(BaseModel):
    code: str
    name_ja: str
    name_en: str
    department: str
    category_ja: str
    assurance: Assurance
    fee_yen: int | None
    standard_processing_days: int | None
    online: bool = True
