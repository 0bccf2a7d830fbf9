"""A test PKI made at test time, and a TLS-terminating front for a plain-HTTP server.

:func:`make_pki` writes, with ``cryptography``, a throw-away certificate authority, a
server certificate for ``127.0.0.1``/``localhost`` signed by it, a client CA with a
client certificate for mutual TLS, and an unrelated CA nobody trusts.

:class:`TlsFront` listens on 127.0.0.1, completes a TLS handshake with each client
(optionally requiring a client certificate), then relays bytes to and from an
upstream ``host:port`` unchanged: put it in front of SeaweedFS and a driver talks
HTTPS to SeaweedFS. Every loop is bounded in count and time; stopping closes
every socket and joins every thread.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import select
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from loopback import LoopbackServer

__all__ = ["Pki", "TlsFront", "make_pki"]

IO_CHUNK = 64 * 1024
MAX_RELAY_ROUNDS = 5_000_000


@dataclass(frozen=True)
class Pki:
    """Paths of the PEM files :func:`make_pki` wrote."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_ca_cert: Path
    client_cert: Path
    client_key: Path
    client_key_encrypted: Path
    client_key_password: str
    other_ca_cert: Path
    combined_client: Path = field(default=Path())


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "libstore tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _ca(common_name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(
    common_name: str,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    *,
    server: bool,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca_cert, ca_key = issuer
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.DNSName("localhost"),
                ]
            ),
            critical=False,
        )
    return builder.sign(ca_key, hashes.SHA256()), key


def _write_cert(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey, password: bytes | None = None) -> Path:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )
    path.chmod(0o600)
    return path


def make_pki(directory: Path) -> Pki:
    """Create a test CA, server and client certificates under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = _ca("libstore test CA")
    server_cert, server_key = _leaf("127.0.0.1", ca, server=True)
    client_ca = _ca("libstore test client CA")
    client_cert, client_key = _leaf("libstore-test-client", client_ca, server=False)
    other_ca, _ = _ca("some other CA")
    password = "client-key-passphrase"
    pki = Pki(
        ca_cert=_write_cert(directory / "ca.pem", ca[0]),
        server_cert=_write_cert(directory / "server.pem", server_cert),
        server_key=_write_key(directory / "server-key.pem", server_key),
        client_ca_cert=_write_cert(directory / "client-ca.pem", client_ca[0]),
        client_cert=_write_cert(directory / "client.pem", client_cert),
        client_key=_write_key(directory / "client-key.pem", client_key),
        client_key_encrypted=_write_key(
            directory / "client-key-encrypted.pem", client_key, password.encode()
        ),
        client_key_password=password,
        other_ca_cert=_write_cert(directory / "other-ca.pem", other_ca),
        combined_client=directory / "client-combined.pem",
    )
    pki.combined_client.write_bytes(pki.client_cert.read_bytes() + pki.client_key.read_bytes())
    return pki


class TlsFront(LoopbackServer):
    """A TLS-terminating TCP relay on 127.0.0.1 in front of ``upstream_host:upstream_port``.

    Args:
        upstream_host: Where plain connections go (127.0.0.1).
        upstream_port: The upstream port.
        cert: The server certificate (PEM).
        key: Its key (PEM).
        client_ca: When given, clients must present a certificate signed by it.
        idle_timeout: Seconds a relayed connection may stay silent before it is closed.
    """

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        cert: Path,
        key: Path,
        *,
        client_ca: Path | None = None,
        idle_timeout: float = 60.0,
    ) -> None:
        super().__init__()
        self.upstream = (upstream_host, upstream_port)
        self.idle_timeout = idle_timeout
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context.load_cert_chain(str(cert), str(key))
        if client_ca is not None:
            self.context.verify_mode = ssl.CERT_REQUIRED
            self.context.load_verify_locations(cafile=str(client_ca))
        #: Completed handshakes, and the client certificate subjects seen (mTLS).
        self.handshakes = 0
        self.client_subjects: list[str] = []
        #: Failed handshakes, as the server saw them.
        self.handshake_failures: list[str] = []

    thread_name = "tlsfront"

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def _serve(self, raw: socket.socket) -> None:
        self._track(raw)
        upstream: socket.socket | None = None
        tls: ssl.SSLSocket | None = None
        try:
            raw.settimeout(10.0)
            try:
                tls = self.context.wrap_socket(raw, server_side=True)
            except (ssl.SSLError, OSError) as exc:
                with self._lock:
                    self.handshake_failures.append(f"{type(exc).__name__}: {exc}")
                return
            self._track(tls)
            peer = tls.getpeercert()
            with self._lock:
                self.handshakes += 1
                if peer:
                    subject = dict(item[0] for item in peer.get("subject", ()))
                    self.client_subjects.append(str(subject.get("commonName", "")))
            upstream = socket.create_connection(self.upstream, timeout=10.0)
            self._track(upstream)
            self._relay(tls, upstream)
        except (OSError, ssl.SSLError):
            pass
        finally:
            for sock in (upstream, tls, raw):
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.close()
                    with self._lock:
                        self._sockets.discard(sock)
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _relay(self, tls: ssl.SSLSocket, upstream: socket.socket) -> None:
        tls.settimeout(self.idle_timeout)
        upstream.settimeout(self.idle_timeout)
        last_activity = time.monotonic()
        for _ in range(MAX_RELAY_ROUNDS):
            if self._stop.is_set() or time.monotonic() - last_activity > self.idle_timeout:
                return
            if tls.pending():
                readable = [tls]
            else:
                readable, _, _ = select.select([tls, upstream], [], [], 0.2)
            for sock in readable:
                try:
                    data = sock.recv(IO_CHUNK)
                except ssl.SSLWantReadError:
                    continue
                if not data:
                    return
                last_activity = time.monotonic()
                (upstream if sock is tls else tls).sendall(data)
