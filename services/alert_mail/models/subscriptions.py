"""Subscribers (登録者) of the alert mail, with the categories and districts they chose.

A subscription is only `active` after its confirmation link was opened (double opt-in)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Integer
from sqlmodel import Field, SQLModel

from services.alert_mail.models._columns import timestamp


class Subscription(SQLModel, table=True):
    __tablename__ = "subscriptions"
    __table_args__ = (Index("ix_subscriptions_status", "status"),)

    id: str = Field(primary_key=True, max_length=64)  # sub_...
    email: str = Field(max_length=254, unique=True)  # normalised: domain lower-cased
    status: str = Field(max_length=16)  # pending | active | suspended | unsubscribed
    language: str = Field(default="ja", max_length=8)  # ja | en | zh | ko
    plain_japanese: bool = False  # やさしい日本語 variant when the alert has one
    owner: str | None = Field(default=None, max_length=255, index=True)  # citizen `sub`
    hard_bounces: int = 0  # consecutive permanent failures; reset on delivery
    link_version: int = 0  # bumped to invalidate every earlier manage/unsubscribe link
    confirmation_jti: str | None = Field(default=None, max_length=64)  # the link last confirmed
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()
    confirmed_at: datetime | None = timestamp(nullable=True)
    suspended_at: datetime | None = timestamp(nullable=True)
    unsubscribed_at: datetime | None = timestamp(nullable=True)


class SubscriptionEvent(SQLModel, table=True):
    """The append-only history of a subscription's status: who moved it (a resident's link, the
    owner's account, the delivery worker suspending a bouncing address) and when."""

    __tablename__ = "subscription_events"
    __table_args__ = (Index("ix_subscription_events_subscription", "subscription_id", "id"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    subscription_id: str = Field(foreign_key="subscriptions.id", max_length=64, ondelete="CASCADE")
    at: datetime = timestamp()
    transition: str = Field(max_length=32)
    from_state: str | None = Field(default=None, max_length=16)
    to_state: str = Field(max_length=16)
    actor: str | None = Field(default=None, max_length=255)  # None: the system (a bounce)
    note: str | None = Field(default=None, max_length=500)


class SubscriptionCategory(SQLModel, table=True):
    __tablename__ = "subscription_categories"
    __table_args__ = (Index("ix_subscription_categories_category", "category", "subscription_id"),)

    subscription_id: str = Field(
        foreign_key="subscriptions.id", primary_key=True, max_length=64, ondelete="CASCADE"
    )
    category: str = Field(foreign_key="categories.code", primary_key=True, max_length=64)


class SubscriptionDistrict(SQLModel, table=True):
    """No rows for a subscription means the whole city (市内全域)."""

    __tablename__ = "subscription_districts"
    __table_args__ = (Index("ix_subscription_districts_district", "district", "subscription_id"),)

    subscription_id: str = Field(
        foreign_key="subscriptions.id", primary_key=True, max_length=64, ondelete="CASCADE"
    )
    district: str = Field(foreign_key="districts.code", primary_key=True, max_length=64)


class ConfirmationSend(SQLModel, table=True):
    """One confirmation mail sent, for the per-address throttle. The address is kept only as a
    keyed digest: an address that never confirms leaves no readable trace."""

    __tablename__ = "confirmation_sends"
    __table_args__ = (Index("ix_confirmation_sends_address", "address_digest", "sent_at"),)

    id: int | None = Field(default=None, primary_key=True)
    address_digest: str = Field(max_length=64)
    sent_at: datetime = timestamp(index=True)
