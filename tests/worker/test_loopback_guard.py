"""The worker tests' loopback guard really refuses a connection that would leave 127.0.0.1."""

import socket

import pytest


def test_a_connection_off_the_machine_fails_the_test():
    with socket.socket() as sock, pytest.raises(AssertionError, match="only 127.0.0.1"):
        sock.connect(("192.0.2.1", 443))  # TEST-NET-1: never routed
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", 9)) != 0  # loopback passes the guard (nothing listens there)
