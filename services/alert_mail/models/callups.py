"""Staff call-up (職員参集メール): staff groups, call-ups sent to them, and the replies.

A call-up's recipients are a snapshot of the group when it was sent (name and address copied),
so removing a member later leaves the history of who was asked intact. Replies are
append-only; a recipient's latest reply is the one with the highest id."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from services.alert_mail.models._columns import timestamp


class StaffGroup(SQLModel, table=True):
    __tablename__ = "staff_groups"

    id: str = Field(primary_key=True, max_length=64)  # grp_...
    code: str = Field(max_length=64, unique=True)
    name_ja: str = Field(max_length=200)
    department: str = Field(max_length=64, index=True)  # its staff read its call-ups
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()


class StaffGroupMember(SQLModel, table=True):
    __tablename__ = "staff_group_members"
    __table_args__ = (
        UniqueConstraint("group_id", "email", name="uq_staff_group_members_group_email"),
    )

    id: str = Field(primary_key=True, max_length=64)  # mem_...
    group_id: str = Field(foreign_key="staff_groups.id", max_length=64, index=True)
    staff_sub: str | None = Field(default=None, max_length=255)  # the member's staff account
    name: str = Field(max_length=200)
    email: str = Field(max_length=254)
    phone: str | None = Field(default=None, max_length=32)
    created_at: datetime = timestamp()


class Callup(SQLModel, table=True):
    __tablename__ = "callups"
    __table_args__ = (Index("ix_callups_department_id", "department", "id"),)

    id: str = Field(primary_key=True, max_length=64)  # cal_...
    group_id: str = Field(foreign_key="staff_groups.id", max_length=64, index=True)
    department: str = Field(max_length=64)  # the group's, when sent
    title: str = Field(max_length=200)
    message: str = Field(max_length=4000)
    status: str = Field(max_length=16)  # open | closed
    alert_id: str | None = Field(default=None, foreign_key="alerts.id", max_length=64)
    recipients: int = 0
    created_by: str = Field(max_length=255)
    closed_by: str | None = Field(default=None, max_length=255)
    created_at: datetime = timestamp()
    closed_at: datetime | None = timestamp(nullable=True)


class CallupRecipient(SQLModel, table=True):
    __tablename__ = "callup_recipients"
    __table_args__ = (
        UniqueConstraint("callup_id", "member_id", name="uq_callup_recipients_callup_member"),
    )

    id: str = Field(primary_key=True, max_length=64)  # rcp_...
    callup_id: str = Field(foreign_key="callups.id", max_length=64, index=True)
    member_id: str = Field(max_length=64)  # no foreign key: members may leave the group later
    staff_sub: str | None = Field(default=None, max_length=255)
    name: str = Field(max_length=200)
    email: str = Field(max_length=254)
    token_version: int = 0  # bumped to revoke earlier reply links
    delivery_id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"),
            ForeignKey("deliveries.id"),
            nullable=True,
        ),
    )


class CallupReply(SQLModel, table=True):
    __tablename__ = "callup_replies"
    __table_args__ = (Index("ix_callup_replies_callup_recipient", "callup_id", "recipient_id"),)

    # An integer in insertion order, so "latest" never depends on the (movable) clock.
    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    callup_id: str = Field(foreign_key="callups.id", max_length=64)
    recipient_id: str = Field(foreign_key="callup_recipients.id", max_length=64)
    status: str = Field(max_length=16)  # safe | injured | cannot_come
    arrival_minutes: int | None = None  # "can come in N minutes"
    comment: str | None = Field(default=None, max_length=1000)
    channel: str = Field(max_length=8)  # form | json
    replied_at: datetime = timestamp()
