"""Tamper-evident audit log core: canonical events, a hash chain and signed checkpoints.

Plain Python on purpose (no web framework, no database): the gateway's storage and HTTP layers
feed records in and out, and `cityhall audit verify FILE` checks an export offline.
"""
