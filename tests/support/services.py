"""Every service's app factory, for tests that walk all of them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from services.alert_mail.app import create_app as alert_mail_app
from services.alert_mail.settings import Settings as AlertMailSettings
from services.e_application.app import create_app as e_application_app
from services.e_application.settings import Settings as EApplicationSettings
from services.facility_booking.app import create_app as facility_booking_app
from services.facility_booking.settings import Settings as FacilityBookingSettings
from services.kit.app import RuntimeOptions
from services.payments_mock.app import create_app as payments_mock_app
from services.payments_mock.settings import Settings as PaymentsMockSettings

Factory = Callable[[str, RuntimeOptions], FastAPI]


def _factory(create: Callable[..., FastAPI], settings: Callable[..., Any]) -> Factory:
    def build(database_url: str, options: RuntimeOptions) -> FastAPI:
        return create(settings(database_url=database_url, environment="test"), options)

    return build


SERVICES: dict[str, Factory] = {
    "e_application": _factory(e_application_app, EApplicationSettings),
    "facility_booking": _factory(facility_booking_app, FacilityBookingSettings),
    "alert_mail": _factory(alert_mail_app, AlertMailSettings),
    "payments_mock": _factory(payments_mock_app, PaymentsMockSettings),
}
