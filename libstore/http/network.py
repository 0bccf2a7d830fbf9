"""Resolving :class:`ClientOptions` once per driver: environment, proxies and TLS.

:func:`resolve_network` reads the environment (proxy variables and CA bundle
variables) exactly once, loads the CA bundle and the client certificate into
one :class:`ssl.SSLContext`, and returns a :class:`NetworkSettings` whose
:meth:`~NetworkSettings.proxies_for` answers "which proxy for this URL?" from a
small cache, so nothing on the request path touches ``os.environ`` or the file
system.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import logging
import os
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

from libstore.http.options import CA_BUNDLE_ENV_VARS, ClientOptions
from libstore.types import InvalidArgumentError

__all__ = ["NetworkSettings", "bypasses_proxy", "resolve_network"]

_PROXY_CACHE_SIZE: Final = 256
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_NO_PROXIES: Final[dict[str, str]] = {}


@dataclass(frozen=True)
class NetworkSettings:
    """What a driver's HTTP client uses, resolved once from its options.

    Attributes:
        proxies: Proxy URL by scheme (``"http"``, ``"https"``, ``"all"``).
        no_proxy: Hosts reached directly (see :func:`bypasses_proxy`).
        ca_bundle: The CA bundle in use, or ``None`` for the default (certifi's).
        ca_source: Where ``ca_bundle`` came from: ``"argument"``, the name of an
            environment variable, or ``"default"``.
        proxy_source: ``"argument"``, ``"environment"`` or ``"none"``.
        ssl_context: The TLS context of every HTTPS connection.
        verify: Whether certificates are verified.
    """

    proxies: Mapping[str, str]
    no_proxy: tuple[str, ...]
    ca_bundle: str | None
    ca_source: str
    proxy_source: str
    ssl_context: ssl.SSLContext
    verify: bool
    _cache: dict[tuple[str, str], dict[str, str]] = field(
        default_factory=dict, repr=False, compare=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def proxies_for(self, url: str) -> dict[str, str]:
        """The ``proxies`` argument for requests' adapter: ``{}`` or ``{scheme: proxy}``.

        Cached per scheme and host, so a driver talking to one endpoint decides once.
        The returned dict is shared: do not modify it.
        """
        if not self.proxies:
            return _NO_PROXIES
        scheme, _, rest = url.partition("://")
        netloc = rest.split("/", 1)[0].split("?", 1)[0]
        key = (scheme, netloc)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        proxy = self.proxies.get(scheme.lower()) or self.proxies.get("all")
        if proxy is not None and self.no_proxy:
            parts = urlsplit(f"{scheme}://{netloc}")
            host = parts.hostname or ""
            port = parts.port or _DEFAULT_PORTS.get(scheme.lower())
            if bypasses_proxy(host, port, self.no_proxy):
                proxy = None
        result = {scheme: proxy} if proxy is not None else _NO_PROXIES
        with self._lock:
            if len(self._cache) >= _PROXY_CACHE_SIZE:
                self._cache.clear()
            self._cache[key] = result
        return result


def bypasses_proxy(host: str, port: int | None, no_proxy: tuple[str, ...]) -> bool:
    """Whether ``host:port`` is excluded from proxying by ``no_proxy`` entries.

    Entries (lower-case): ``*`` matches everything; ``example.com``,
    ``.example.com`` and ``*.example.com`` match the domain and its subdomains;
    IP addresses match exactly and CIDR blocks by containment; any entry may end
    with ``:port`` to match that port only. IPv6 literals may be bracketed.

    Args:
        host: The URL's host name or IP address (without brackets).
        port: The URL's port (the scheme's default when absent), or ``None``.
        no_proxy: The normalised entries.

    Returns:
        ``True`` when the host is reached directly.
    """
    host = host.lower().strip("[]").rstrip(".")
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for raw in no_proxy:
        entry = raw
        if entry == "*":
            return True
        entry_port: int | None = None
        if entry.startswith("["):
            end = entry.find("]")
            tail = entry[end + 1 :]
            if tail.startswith(":") and tail[1:].isdigit():
                entry_port = int(tail[1:])
            entry = entry[1:end]
        elif entry.count(":") == 1:
            name, _, port_text = entry.partition(":")
            if port_text.isdigit():
                entry, entry_port = name, int(port_text)
        if entry_port is not None and entry_port != port:
            continue
        if address is not None:
            try:
                if "/" in entry:
                    if address in ipaddress.ip_network(entry, strict=False):
                        return True
                elif address == ipaddress.ip_address(entry):
                    return True
            except ValueError:
                pass
            if entry == host:
                return True
            continue
        domain = entry.removeprefix("*.").lstrip(".").rstrip(".")
        if domain and (host == domain or host.endswith("." + domain)):
            return True
    return False


def _env(environ: Mapping[str, str], *names: str) -> tuple[str, str] | None:
    for name in names:
        value = environ.get(name)
        if value and value.strip():
            return name, value.strip()
    return None


def _environment_proxies(environ: Mapping[str, str]) -> dict[str, str]:
    found: dict[str, str] = {}
    # Behind a CGI server HTTP_PROXY is the client's "Proxy:" header ("httpoxy"): ignore it.
    http_names = ("http_proxy",) if "REQUEST_METHOD" in environ else ("http_proxy", "HTTP_PROXY")
    for scheme, names in (
        ("http", http_names),
        ("https", ("https_proxy", "HTTPS_PROXY")),
        ("all", ("all_proxy", "ALL_PROXY")),
    ):
        hit = _env(environ, *names)
        if hit is not None:
            found[scheme] = hit[1]
    return found


def resolve_network(
    options: ClientOptions, environ: Mapping[str, str] | None = None
) -> NetworkSettings:
    """Resolve ``options`` against the environment, once, for one driver.

    Args:
        options: The driver's options.
        environ: The environment to read (default ``os.environ``); read only here.

    Returns:
        The settings the HTTP client uses for every request.

    Raises:
        InvalidArgumentError: A proxy URL from the environment is invalid, a SOCKS
            proxy is configured without PySocks, or the CA bundle or the client
            certificate cannot be loaded.
    """
    env: Mapping[str, str] = os.environ if environ is None else environ
    proxy_source = "argument"
    if options.proxies is not None:
        proxies = dict(options.proxies)
    elif options.trust_env:
        raw = _environment_proxies(env)
        try:
            proxies = dict(ClientOptions(proxies=raw).proxies or {})
        except InvalidArgumentError as exc:
            raise InvalidArgumentError(f"invalid proxy in the environment: {exc}") from exc
        proxy_source = "environment" if proxies else "none"
    else:
        proxies, proxy_source = {}, "none"
    if not proxies:
        proxy_source = "none"
    if any(url.startswith("socks") for url in proxies.values()) and (
        importlib.util.find_spec("socks") is None
    ):
        raise InvalidArgumentError("SOCKS proxies need the PySocks package (pip install PySocks)")

    no_proxy: tuple[str, ...] = ()
    if options.no_proxy is not None:
        no_proxy = tuple(options.no_proxy)
    elif options.trust_env:
        hit = _env(env, "no_proxy", "NO_PROXY")
        if hit is not None:
            no_proxy = tuple(ClientOptions(no_proxy=hit[1]).no_proxy or ())

    ca_bundle: str | None = None
    ca_source = "default"
    if options.ca_bundle is not None:
        ca_bundle, ca_source = str(options.ca_bundle), "argument"
    elif options.trust_env and options.verify:
        hit = _env(env, *CA_BUNDLE_ENV_VARS)
        if hit is not None:
            ca_source, ca_bundle = hit
    context = _ssl_context(options, ca_bundle, ca_source)
    if not options.verify:
        logging.getLogger("libstore.http").warning(
            "TLS certificate verification is DISABLED (ClientOptions(verify=False)): "
            "anyone on the network path can read and alter this driver's traffic; "
            "use this only against test endpoints"
        )
    return NetworkSettings(
        proxies=proxies,
        no_proxy=no_proxy,
        ca_bundle=ca_bundle,
        ca_source=ca_source,
        proxy_source=proxy_source,
        ssl_context=context,
        verify=options.verify,
    )


def _ssl_context(options: ClientOptions, ca_bundle: str | None, ca_source: str) -> ssl.SSLContext:
    from urllib3.util.ssl_ import create_urllib3_context

    context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
    if not options.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        where = f"CA bundle {ca_bundle!r} (from {ca_source})"
        if ca_bundle is None:
            import certifi

            ca_bundle = certifi.where()
            where = f"the default CA bundle {ca_bundle!r}"
        try:
            if os.path.isdir(ca_bundle):
                context.load_verify_locations(capath=ca_bundle)
            elif os.path.isfile(ca_bundle):
                context.load_verify_locations(cafile=ca_bundle)
            else:
                raise InvalidArgumentError(f"{where} does not exist")
        except (OSError, ssl.SSLError) as exc:
            raise InvalidArgumentError(f"cannot load {where}: {exc}") from exc
    if options.client_cert is not None:
        cert = str(options.client_cert)
        key = str(options.client_key) if options.client_key is not None else None
        for label, path in (("client_cert", cert), ("client_key", key)):
            if path is not None and not os.path.isfile(path):
                raise InvalidArgumentError(f"{label} {path!r} does not exist")
        try:
            context.load_cert_chain(cert, key, options.client_key_password)
        except (OSError, ssl.SSLError) as exc:
            reason = getattr(exc, "reason", None) or type(exc).__name__
            raise InvalidArgumentError(
                f"cannot load the client certificate {cert!r}"
                + (f" with key {key!r}" if key else "")
                + f": {reason}"
            ) from None
    return context
