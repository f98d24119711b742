"""Magic test addresses (after GOV.UK Notify's): mail to them is never sent; the worker records
the outcome the address names, so client integration tests can reach every status."""

from __future__ import annotations

from services.kit.mailer import SendResult

SIMULATOR_DOMAIN = "simulator.cityhall.example"

_OUTCOMES: dict[str, SendResult] = {
    f"delivered@{SIMULATOR_DOMAIN}": SendResult("delivered", 250, "simulated delivery"),
    f"temp-fail@{SIMULATOR_DOMAIN}": SendResult(
        "temporary-failure", 452, "simulated: mailbox temporarily unavailable"
    ),
    f"perm-fail@{SIMULATOR_DOMAIN}": SendResult(
        "permanent-failure", 550, "simulated: no such mailbox"
    ),
}

SIMULATED_ADDRESSES = tuple(_OUTCOMES)


def simulated_outcome(email: str) -> SendResult | None:
    return _OUTCOMES.get(email.lower())
