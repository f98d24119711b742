"""Demo staff groups for call-ups (fictional members at city.demo.example.jp), upserted by the
group's code and the member's address so that seeding twice changes nothing."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.alert_mail.models import StaffGroup, StaffGroupMember
from services.kit.ids import new_id


async def seed_staff_groups(
    session: AsyncSession, groups: list[Mapping[str, Any]], *, now: datetime
) -> int:
    count = 0
    for item in groups:
        group = (
            await session.exec(select(StaffGroup).where(col(StaffGroup.code) == item["code"]))
        ).first()
        if group is None:
            group = StaffGroup(
                id=new_id("grp"),
                code=item["code"],
                name_ja=item["name_ja"],
                department=item["department"],
                created_at=now,
                updated_at=now,
            )
        else:
            group.name_ja = item["name_ja"]
            group.department = item["department"]
        session.add(group)
        await session.flush()
        known = {
            m.email: m
            for m in (
                await session.exec(
                    select(StaffGroupMember).where(col(StaffGroupMember.group_id) == group.id)
                )
            ).all()
        }
        for person in item.get("members", ()):
            member = known.get(person["email"]) or StaffGroupMember(
                id=new_id("mem"),
                group_id=group.id,
                email=person["email"],
                name=person["name"],
                created_at=now,
            )
            member.name = person["name"]
            member.staff_sub = person.get("staff_sub")
            member.phone = person.get("phone")
            session.add(member)
            count += 1
        await session.flush()
        count += 1
    return count
