from gateway.audit_chain.chain import GENESIS

from .helper_probe import GENESIS_COPY


def test_probe() -> None:
    assert GENESIS and GENESIS_COPY
