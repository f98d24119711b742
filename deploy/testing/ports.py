"""Free local ports, for a suite that must not collide with another one on the machine."""

from __future__ import annotations

import socket


def bound_sockets(count: int, host: str = "127.0.0.1") -> list[socket.socket]:
    """`count` sockets bound to ports the kernel chose, not yet listening: a server handed
    one keeps its port from the moment it was chosen."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, 0))
            sockets.append(sock)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Distinct ports the kernel just handed out (for another process to bind: another
    program may take one before it does)."""
    sockets = bound_sockets(count, host)
    try:
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()
