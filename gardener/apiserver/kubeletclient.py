"""The API server's client of kubelets: where a Node's kubelet listens, and one TLS session to reach it.

kube-apiserver finds a kubelet from the Node object alone (its `status.addresses` in the order of
`--kubelet-preferred-address-types`, its `status.daemonEndpoints.kubeletEndpoint.Port`), verifies the kubelet's
serving certificate against `--kubelet-certificate-authority` and authenticates with
`--kubelet-client-certificate`; this module does the same. Without those flags the server's own CA (which signs
kubelet-serving CSRs) verifies kubelets, and a client certificate for `system:kube-apiserver:kubelet` (Gardener's
name) is issued from that CA at startup. A failed dial becomes `Unreachable`, worded as Go's net package words it,
so callers can answer kube's messages. The connect handlers (`podproxy`, `streamproxy`) use it; `app` builds it
from `main`'s flags.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web
from yarl import URL

from gardener.apiserver.errors import StatusError
from gardener.runtime.pki import KeyPair, issue_client_cert

#: kubelet's --port default, used when a Node reports no daemon endpoint
DEFAULT_PORT = 10250
#: Gardener starts every shoot kube-apiserver with --kubelet-preferred-address-types=InternalIP,Hostname,ExternalIP.
#: kube's own default (Hostname,InternalDNS,InternalIP,ExternalDNS,ExternalIP) puts Hostname first, which on a
#: local machine is the bare node name that no resolver knows
DEFAULT_PREFERRED_ADDRESS_TYPES = ("InternalIP", "Hostname", "ExternalIP")
#: the user of the API server's kubelet client certificate (Gardener's secret `kube-apiserver-kubelet`)
CLIENT_USER = "system:kube-apiserver:kubelet"
#: Go's default dialer (client-go's transport) and TLS handshake limits
DIAL_TIMEOUT = 30.0
TLS_HANDSHAKE_TIMEOUT = 10.0
_HOSTNAME_LABEL = "kubernetes.io/hostname"


@dataclass(frozen=True)
class KubeletClientConfig:
    """kube-apiserver's kubelet flags; None means "the server's own CA" and "a certificate issued at startup"."""

    preferred_address_types: tuple[str, ...] = DEFAULT_PREFERRED_ADDRESS_TYPES
    certificate_authority: Path | None = None
    client_certificate: Path | None = None
    client_key: Path | None = None

    def __post_init__(self) -> None:
        if (self.client_certificate is None) != (self.client_key is None):
            raise ValueError("--kubelet-client-certificate and --kubelet-client-key go together")


@dataclass(frozen=True)
class Endpoint:
    """Where a kubelet (or a pod) listens."""

    host: str
    port: int

    @property
    def hostport(self) -> str:
        """Go's net.JoinHostPort: IPv6 addresses in brackets."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def url(self, path: str, query: str = "", *, scheme: str = "https") -> str:
        return f"{scheme}://{self.hostport}{request_target(path, query)}"


def request_target(path: str, query: str = "") -> str:
    """The escaped path (`/` when empty) and the already encoded query of a request line."""
    escaped = quote(path or "/", safe="/:@!$&'()*+,;=-._~")
    return escaped + (f"?{query}" if query else "")


def node_endpoint(node: Mapping[str, Any], *, preferred: Sequence[str]) -> Endpoint:
    """kube's NodeConnectionInfoGetter: the first address of a preferred type, the kubelet-reported port.

    A Node without such an address is kube's plain error (500, no reason), as GetPreferredNodeAddress words it.
    """
    status = node.get("status") or {}
    addresses = [a for a in status.get("addresses") or [] if isinstance(a, dict)]
    host = ""
    for wanted in preferred:
        host = next((str(a.get("address", "")) for a in addresses if a.get("type") == wanted), "")
        if not host and wanted == "Hostname":
            # kubelets before 1.5 only set the label
            host = str(((node.get("metadata") or {}).get("labels") or {}).get(_HOSTNAME_LABEL) or "")
        if host:
            break
    if not host:
        known = " ".join(f"{{{a.get('type', '')} {a.get('address', '')}}}" for a in addresses)
        raise StatusError(500, "", f"no preferred addresses found; known addresses: [{known}]")
    endpoint = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
    port = endpoint if isinstance(endpoint, int) and not isinstance(endpoint, bool) and endpoint > 0 else DEFAULT_PORT
    return Endpoint(host=host, port=port)


class Unreachable(Exception):
    """The backend could not be dialed; the message says why as Go does (`dial tcp H:P: connect: ...`)."""


def describe_dial_error(endpoint: Endpoint, exc: BaseException) -> str:
    """Go's wording of a failed dial or TLS handshake, which kube quotes in its messages."""
    address = endpoint.hostport
    if isinstance(exc, aiohttp.ClientConnectorError):
        exc = exc.os_error
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"tls: failed to verify certificate: x509: {exc.verify_message or exc.reason or 'unknown'}"
    if isinstance(exc, ssl.SSLError):
        return f"remote error: tls: {(exc.reason or str(exc)).lower().replace('_', ' ')}"
    if isinstance(exc, TimeoutError):
        return f"dial tcp {address}: i/o timeout"
    if isinstance(exc, socket.gaierror):
        return f"dial tcp: lookup {endpoint.host}: no such host"
    if isinstance(exc, ConnectionRefusedError):
        return f"dial tcp {address}: connect: connection refused"
    if isinstance(exc, OSError) and exc.strerror:
        return f"dial tcp {address}: connect: {exc.strerror.lower()}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "EOF"  # the backend closed the connection without an answer
    return f"dial tcp {address}: {exc or type(exc).__name__}"


def _client_context(
    *, verify: bool, ca_file: Path | None, ca_pem: bytes, cert_file: Path, key_file: Path
) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(["http/1.1"])
    if verify:
        if ca_file is not None:
            ctx.load_verify_locations(cafile=str(ca_file))
        else:
            ctx.load_verify_locations(cadata=ca_pem.decode("ascii"))
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.load_cert_chain(certfile=cert_file, keyfile=key_file)
    return ctx


class KubeletClient:
    """TLS to kubelets: one verifying context, one for `insecureSkipTLSVerifyBackend`, one HTTP session."""

    def __init__(self, *, config: KubeletClientConfig, ca: KeyPair) -> None:
        self.config = config
        if config.client_certificate is not None and config.client_key is not None:
            self._contexts = self._build(config, ca, cert_file=config.client_certificate, key_file=config.client_key)
        else:
            pair = issue_client_cert(ca, user=CLIENT_USER, groups=())
            # load_cert_chain only reads files: a private directory holds the pair for the moment it reads
            with tempfile.TemporaryDirectory(prefix="kubelet-client-") as tmp:
                cert_file, key_file = Path(tmp) / "tls.crt", Path(tmp) / "tls.key"
                cert_file.write_bytes(pair.cert_pem)
                key_file.touch(mode=0o600)
                key_file.write_bytes(pair.key_pem)
                self._contexts = self._build(config, ca, cert_file=cert_file, key_file=key_file)
        self._session: aiohttp.ClientSession | None = None

    @staticmethod
    def _build(
        config: KubeletClientConfig, ca: KeyPair, *, cert_file: Path, key_file: Path
    ) -> dict[bool, ssl.SSLContext]:
        return {
            verify: _client_context(
                verify=verify,
                ca_file=config.certificate_authority,
                ca_pem=ca.cert_pem,
                cert_file=cert_file,
                key_file=key_file,
            )
            for verify in (True, False)
        }

    def endpoint(self, node: Mapping[str, Any]) -> Endpoint:
        return node_endpoint(node, preferred=self.config.preferred_address_types)

    def tls(self, *, verify: bool = True) -> ssl.SSLContext:
        """As kube-apiserver: kubelets' serving certificates are verified only against a given
        --kubelet-certificate-authority (kubelets without serving-certificate rotation sign their own)."""
        return self._contexts[verify and self.config.certificate_authority is not None]

    @property
    def session(self) -> aiohttp.ClientSession:
        """Created on first use, inside the serving event loop."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                # no pool limit: every followed log and exec session holds a connection for as long as it runs
                connector=aiohttp.TCPConnector(limit=0),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=DIAL_TIMEOUT),
                auto_decompress=False,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self,
        method: str,
        endpoint: Endpoint,
        url: str,
        *,
        tls: ssl.SSLContext | bool,
        headers: Mapping[str, str] | None = None,
        data: Any = None,
    ) -> aiohttp.ClientResponse:
        """Send a request and return the response with its body unread; raises `Unreachable`. `url` is sent as
        encoded here (yarl would otherwise re-encode the query, unlike Go)."""
        try:
            return await self.session.request(
                method, URL(url, encoded=True), headers=headers, data=data, ssl=tls, allow_redirects=False
            )
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise Unreachable(describe_dial_error(endpoint, exc)) from exc

    async def websocket(
        self, endpoint: Endpoint, url: str, *, protocols: Sequence[str], verify: bool = True
    ) -> aiohttp.ClientWebSocketResponse:
        """Open a WebSocket offering `protocols`; a refused handshake stays `aiohttp.WSServerHandshakeError`."""
        try:
            return await self.session.ws_connect(
                URL(url, encoded=True), protocols=tuple(protocols), ssl=self.tls(verify=verify), max_msg_size=0
            )
        except aiohttp.WSServerHandshakeError:
            raise
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise Unreachable(describe_dial_error(endpoint, exc)) from exc

    async def connect(
        self, endpoint: Endpoint, *, verify: bool = True
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A raw TLS connection, for an upgrade relayed byte for byte; raises `Unreachable`."""
        try:
            return await asyncio.wait_for(
                asyncio.open_connection(
                    endpoint.host,
                    endpoint.port,
                    ssl=self.tls(verify=verify),
                    ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT,
                    limit=2**16,
                ),
                DIAL_TIMEOUT + TLS_HANDSHAKE_TIMEOUT,
            )
        except (TimeoutError, OSError) as exc:
            raise Unreachable(describe_dial_error(endpoint, exc)) from exc


#: where the serving application keeps its client, for the connect handlers
KUBELET_CLIENT = web.AppKey("kubelet_client", KubeletClient)
