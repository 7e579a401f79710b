"""Where the notification transports may send (issue 11 item 8): public addresses only.

A webhook, a group robot or an SMS gateway is an address an administrator types in; pointed
inside (the database, the cloud's metadata service, an intranet admin page), it would make the
worker a proxy into the organisation's network. So every outbound URL:

- is http(s), with a host and no user name or password in it;
- is refused when saved (`check_url`) if its host is, in any spelling, an address that is not
  public — loopback, private, link-local (169.254.169.254: cloud metadata), shared (100.64/10:
  some clouds' metadata), reserved, multicast — including decimal, octal or hexadecimal IPv4
  (`http://2130706433/`), IPv4-mapped IPv6 (`::ffff:127.0.0.1`) and `localhost` names;
- is resolved again when a message is delivered (`connect_checked`): every address the name
  resolves to must be public, and the connection is made to the address that was checked (a
  name that resolves to a public address when checked and to 127.0.0.1 a second later —
  DNS rebinding — still reaches only the address checked).

`HUIYIN_OUTBOUND_ALLOW` (settings.OUTBOUND_ALLOW) names the exceptions — an intranet SMS gateway,
a local receiver: host names (exactly), addresses or CIDR ranges, comma-separated; empty by
default. Redirects are never followed (channels.http) and no response body is ever shown back.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class OutboundRefused(ValueError):
    """An outbound address that is not public (and not allowed by HUIYIN_OUTBOUND_ALLOW)."""


LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


def _allowed() -> tuple[set[str], list[ipaddress.IPv4Network | ipaddress.IPv6Network]]:
    names: set[str] = set()
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for item in getattr(settings, "OUTBOUND_ALLOW", []):
        item = item.strip().lower().strip("[]")
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            names.add(item.rstrip("."))
    return names, networks


def _literal(host: str) -> Address | None:
    """The address a host names literally, in any spelling the resolver would accept (dotted,
    decimal, octal, hexadecimal IPv4; IPv6 with or without brackets); None for a name."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))  # 2130706433, 0x7f000001, 0177.0.0.1, 127.1
    except OSError:
        return None


def public(ip: Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            return public(mapped)
        if ip.teredo is not None:
            return False
    return bool(ip.is_global) and not ip.is_multicast


def address_allowed(ip: Address) -> bool:
    _, networks = _allowed()
    return public(ip) or any(ip in n for n in networks)


def _host_of(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OutboundRefused("only http(s) addresses with a host name")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise OutboundRefused("no user name or password in the address")
    try:
        parts.port  # noqa: B018 — a port that is not a number is refused here
    except ValueError:
        raise OutboundRefused("the port is not a number") from None
    return parts.hostname.lower().rstrip(".")


def check_url(url: str) -> None:
    """The address as typed: refused when it names an address that is not public (without
    resolving names: that happens at every delivery)."""
    host = _host_of(url)
    names, _ = _allowed()
    if host in names:
        return
    if host in LOCAL_NAMES or host.endswith(".localhost"):
        raise OutboundRefused("a local address is not allowed (HUIYIN_OUTBOUND_ALLOW names exceptions)")
    ip = _literal(host)
    if ip is not None and not address_allowed(ip):
        raise OutboundRefused(f"{ip} is not a public address (HUIYIN_OUTBOUND_ALLOW names exceptions)")


def resolve_checked(url: str) -> list[tuple[int, Address, int]]:
    """The addresses to connect to for `url`: (family, address, port), every one of them public
    or allowed; raises OutboundRefused otherwise (or when the name does not resolve)."""
    check_url(url)
    parts = urlsplit(url)
    host = _host_of(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    names, _ = _allowed()
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise OutboundRefused(f"the host name does not resolve: {exc}") from None
    found: list[tuple[int, Address, int]] = []
    for family, _type, _proto, _name, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if host not in names and not address_allowed(ip):
            raise OutboundRefused(f"{host} resolves to {ip}, which is not a public address")
        found.append((family, ip, int(sockaddr[1])))
    if not found:
        raise OutboundRefused("the host name does not resolve")
    return found


def connect_checked(url: str, timeout: float | None) -> socket.socket:
    """A connection to the first reachable address `url` resolves to, each checked first."""
    last: OSError | None = None
    for family, ip, port in resolve_checked(url):
        sock = socket.socket(family, socket.SOCK_STREAM)
        if timeout is not None:
            sock.settimeout(timeout)
        try:
            sock.connect((str(ip), port))
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    raise last or OSError("no address to connect to")
