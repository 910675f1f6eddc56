"""Which push endpoints the server may POST to (CONTRACT section 11).

An endpoint is a URL a logged-in user hands us and the worker later POSTs to: without a rule it is
a server-side request forgery (cloud metadata, Redis, the database, an admin port). The rule, in
one place, used when subscribing and again right before every send (DNS can change):

- `https://`, to a host in PUSH_ALLOWED_HOSTS (exact names, `*.suffix` for subdomains, `*` any host;
  default: the browsers' push services);
- every address the host resolves to is public (not loopback, private, link-local, CGNAT,
  unique-local, multicast, reserved, nor an IPv4 one of those inside an IPv6 address);
- the exception: plain http or https to a loopback host when PUSH_ALLOW_HTTP_LOOPBACK is on
  (DJANGO_DEBUG only; the demo and the tests' local push service).

The session `push_session()` makes never follows redirects, and checks the address it actually
connected to, so a name that answers a public address to the check and a private one to the
connection (DNS rebinding) still reaches nothing inside.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # an IPv4 address reached through a NAT64 gateway
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}

MSG_INVALID = "Endereço inválido."
MSG_SCHEME = "O endereço do serviço de push deve usar https://."
MSG_HOST = "Este endereço não é de um serviço de push permitido."
MSG_PRIVATE = "O endereço do serviço de push deve ser público: endereços internos, privados ou locais são recusados."
MSG_UNRESOLVED = "Não foi possível encontrar o endereço do serviço de push."


class EndpointRefused(ValueError):
    """The endpoint may not be used; the message is Portuguese and never contains the URL's path."""

    def __init__(self, message: str, host: str = ""):
        super().__init__(message)
        self.host = host


class EndpointUnresolved(EndpointRefused):
    """The host does not resolve now: refused when subscribing, retried later when sending."""


def is_public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address in _NAT64:  # DNS64 networks reach every IPv4 host this way: judged as that host
            return is_public_address(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        # An IPv4 address carried inside an IPv6 one is judged as itself.
        embedded = [address.ipv4_mapped, address.sixtofour, address.teredo[1] if address.teredo else None]
        if any(v4 is not None and not is_public_address(v4) for v4 in embedded):
            return False
        if address.is_site_local:
            return False
    if address in _METADATA or (address.version == 4 and address in _CGNAT):
        return False
    return address.is_global and not (address.is_private or address.is_loopback or address.is_link_local
                                      or address.is_reserved or address.is_multicast or address.is_unspecified)


def resolve(host: str, port: int) -> list[str]:
    """Every address the host resolves to now (the tests replace it to play a DNS change)."""
    return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def host_allowed(host: str, patterns: list[str]) -> bool:
    host = host.lower().rstrip(".")
    for pattern in (p.strip().lower().rstrip(".") for p in patterns):
        if pattern == "*" or host == pattern:
            return True
        if pattern.startswith("*.") and host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
            return True
    return False


def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        found = resolve(host, port)
    except (OSError, UnicodeError):
        raise EndpointUnresolved(MSG_UNRESOLVED, host) from None
    try:
        addresses = [ipaddress.ip_address(a.split("%")[0]) for a in found]
    except ValueError:
        raise EndpointUnresolved(MSG_UNRESOLVED, host) from None
    if not addresses:
        raise EndpointUnresolved(MSG_UNRESOLVED, host)
    return addresses


def loopback_allowed() -> bool:
    return bool(getattr(settings, "PUSH_ALLOW_HTTP_LOOPBACK", False))


def check_endpoint(endpoint: str) -> None:
    """Raise EndpointRefused unless the server may POST to this endpoint now."""
    try:
        parts = urlsplit(endpoint)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise EndpointRefused(MSG_INVALID) from None
    host = (parts.hostname or "").rstrip(".")
    if not host or parts.scheme not in ("https", "http"):
        raise EndpointRefused(MSG_INVALID if not host else MSG_SCHEME, host)
    if loopback_allowed() and _is_loopback_host(host, port):
        return
    if parts.scheme != "https":
        raise EndpointRefused(MSG_SCHEME, host)
    if not host_allowed(host, settings.PUSH_ALLOWED_HOSTS):
        raise EndpointRefused(MSG_HOST, host)
    # Any private address is enough to refuse: the connection may use any of them.
    if not all(is_public_address(a) for a in _addresses(host, port)):
        raise EndpointRefused(MSG_PRIVATE, host)


def _is_loopback_host(host: str, port: int) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    if host.lower() != "localhost" and not host.lower().endswith(".localhost"):
        return False  # other names are not looked up for this
    try:
        return all(a.is_loopback for a in _addresses(host, port))
    except EndpointUnresolved:
        return False


# --- the HTTP session the sender uses ------------------------------------------------------------


def _peer_allowed(sock: socket.socket) -> bool:
    try:
        address = ipaddress.ip_address(sock.getpeername()[0].split("%")[0])
    except (OSError, ValueError):
        return False
    return is_public_address(address) or (loopback_allowed() and address.is_loopback)


class _CheckedPeer:
    """Refuse the connection when the address it reached is not one an endpoint may have."""

    def _new_conn(self):
        sock = super()._new_conn()
        if not _peer_allowed(sock):
            sock.close()
            raise EndpointRefused(MSG_PRIVATE, self.host)
        return sock


class _HTTPConnection(_CheckedPeer, HTTPConnection):
    pass


class _HTTPSConnection(_CheckedPeer, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _CheckedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


class _PushSession(requests.Session):
    def request(self, method, url, *args, **kwargs):
        # A push service never redirects; following one would POST wherever it points.
        kwargs["allow_redirects"] = False
        return super().request(method, url, *args, **kwargs)


def push_session() -> requests.Session:
    session = _PushSession()
    adapter = _CheckedAdapter()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
