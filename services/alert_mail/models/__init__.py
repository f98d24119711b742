"""Tables of alert_mail, one module per area."""

from services.alert_mail.models.alerts import Alert, AlertEvent
from services.alert_mail.models.callups import (
    Callup,
    CallupRecipient,
    CallupReply,
    StaffGroup,
    StaffGroupMember,
)
from services.alert_mail.models.deliveries import Delivery, OutgoingMessage
from services.alert_mail.models.notices import (
    Notification,
    NotificationTemplate,
    NotificationTemplateVersion,
)
from services.alert_mail.models.reference import Category, District
from services.alert_mail.models.subscriptions import (
    ConfirmationSend,
    Subscription,
    SubscriptionCategory,
    SubscriptionDistrict,
    SubscriptionEvent,
)

__all__ = [
    "Alert",
    "AlertEvent",
    "Callup",
    "CallupRecipient",
    "CallupReply",
    "Category",
    "ConfirmationSend",
    "Delivery",
    "District",
    "Notification",
    "NotificationTemplate",
    "NotificationTemplateVersion",
    "OutgoingMessage",
    "StaffGroup",
    "StaffGroupMember",
    "Subscription",
    "SubscriptionCategory",
    "SubscriptionDistrict",
    "SubscriptionEvent",
]
