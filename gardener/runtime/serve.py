"""The small HTTP endpoint every long-running binary serves: `/metrics` (Prometheus) and `/healthz`."""

from __future__ import annotations

import ssl
import tempfile
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gardener.runtime.pki import create_ca, issue_serving_cert


def serving_context(*, component: str, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    """TLS for a component's /healthz and /metrics: the given certificate, or (as kube's components do when given
    none) a self-signed one made in memory for `component`."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert is not None and key is not None:
        ctx.load_cert_chain(cert, key)
        return ctx
    pair = issue_serving_cert(
        create_ca(common_name=f"{component}-ca"),
        common_name=component,
        dns_names=["localhost"],
        ip_addresses=["127.0.0.1"],
    )
    # load_cert_chain reads files only: a private directory holds the pair for the moment it reads
    with tempfile.TemporaryDirectory(prefix=f"{component}-tls-") as tmp:
        c, k = Path(tmp) / "tls.crt", Path(tmp) / "tls.key"
        c.write_bytes(pair.cert_pem)
        k.touch(mode=0o600)
        k.write_bytes(pair.key_pem)
        ctx.load_cert_chain(c, k)
    return ctx


def serve(
    port: int, healthy: Callable[[], bool], *, host: str = "127.0.0.1", ssl_context: ssl.SSLContext | None = None
) -> ThreadingHTTPServer:
    """Serve in a daemon thread, over TLS when given a context; port 0 picks a free one (see `server_address`)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                body, code, ctype = generate_latest(), 200, CONTENT_TYPE_LATEST
            elif self.path == "/healthz":
                ok = healthy()
                body, code, ctype = (b"ok" if ok else b"unhealthy"), (200 if ok else 503), "text/plain"
            else:
                body, code, ctype = b"not found", 404, "text/plain"
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer((host, port), Handler)
    if ssl_context is not None:
        server.socket = ssl_context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    return server
