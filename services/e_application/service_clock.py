"""The service clock for code the kit calls with a session only (the payment event handler):
found through the session's engine, registered at startup. The provider's event time is not
ours: in simulation payments_mock's clock may run days ahead of this service's."""

from __future__ import annotations

import weakref
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.clock import Clock

_CLOCKS: weakref.WeakKeyDictionary[Engine, Clock] = weakref.WeakKeyDictionary()


def register(engine: Engine, clock: Clock) -> None:
    _CLOCKS[engine] = clock


def now_for(session: AsyncSession) -> datetime:
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    return (_CLOCKS.get(engine) or Clock()).now()
