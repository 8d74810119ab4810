"""`gardener-apiserver`: parse flags, build the server, run until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from gardener.apiserver.app import APIServer, ServerConfig
from gardener.apiserver.httputil import MAX_BODY_BYTES
from gardener.apiserver.kubeletclient import DEFAULT_PREFERRED_ADDRESS_TYPES, KubeletClientConfig
from gardener.apiserver.storage.cache import CachedBackend
from gardener.apiserver.storage.interface import Backend, ValueTransformer
from gardener.apiserver.storage.sqlite import SQLiteBackend
from gardener.apiserver.tokens import load_token_file
from gardener.apiserver.transport import ConnectionLimits
from gardener.runtime.logs import setup_logging
from gardener.runtime.pki import ServerPKI, server_pki_from_files

log = logging.getLogger("gardener.apiserver")


def _flag_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="gardener-apiserver", description="Kubernetes-compatible API server")
    p.add_argument("--data-dir", required=True, type=Path, help="where storage, certificates and kubeconfigs live")
    p.add_argument("--bind-address", default="127.0.0.1")
    p.add_argument("--secure-port", type=int, default=6443, help="0 picks a free port")
    p.add_argument("--storage", choices=["sqlite", "etcd"], default="sqlite")
    p.add_argument("--etcd-servers", default="", help="comma-separated etcd client URLs (with --storage etcd)")
    p.add_argument("--etcd-prefix", default="", help="extra key prefix in etcd, so several gardens can share one")
    p.add_argument(
        "--watch-cache",
        type=_flag_bool,
        nargs="?",
        const=True,
        default=True,
        metavar="true|false",
        help="serve LISTs of a resource from memory after its first LIST (default true)",
    )
    p.add_argument("--encryption-provider-config", type=Path, help="EncryptionConfiguration file (Secrets at rest)")
    p.add_argument(
        "--sqlite-synchronous", choices=["FULL", "NORMAL"], default="FULL", help="FULL survives power loss too"
    )
    p.add_argument("--token-auth-file", type=Path, help='CSV: token,user,uid,"group1,group2"')
    p.add_argument("--tls-san", action="append", default=[], help="extra host name or IP for the serving certificate")
    given = p.add_argument_group(
        "certificates managed elsewhere (all five together; without them the server keeps its own under DATA_DIR/pki)"
    )
    given.add_argument("--client-ca-file", type=Path, help="CA of client certificates (PEM)")
    given.add_argument(
        "--cluster-signing-key-file", type=Path, help="key of the client CA: signs CSRs and the admin kubeconfig"
    )
    given.add_argument("--tls-cert-file", type=Path, help="serving certificate (PEM)")
    given.add_argument("--tls-private-key-file", type=Path, help="key of the serving certificate (PEM)")
    given.add_argument("--service-account-signing-key-file", type=Path, help="key that signs service-account tokens")
    p.add_argument(
        "--disable-garden-admission",
        action="store_true",
        help="do not run the garden's admission in-process (when a webhook runs it instead)",
    )
    limits = ConnectionLimits()
    transport = p.add_argument_group("request and connection limits (kube-apiserver's values by default)")
    transport.add_argument(
        "--max-request-body-bytes", type=int, default=MAX_BODY_BYTES, help="larger request bodies answer 413"
    )
    transport.add_argument(
        "--request-header-timeout",
        type=float,
        default=limits.header_timeout,
        metavar="SECONDS",
        help="close a connection whose request line and headers have not all arrived by then",
    )
    transport.add_argument(
        "--idle-connection-timeout",
        type=float,
        default=limits.idle_timeout,
        metavar="SECONDS",
        help="close a kept-alive connection idle between requests for this long (never during a request)",
    )
    transport.add_argument(
        "--tls-handshake-timeout", type=float, default=limits.tls_handshake_timeout, metavar="SECONDS"
    )
    transport.add_argument(
        "--max-connections-per-client",
        type=int,
        default=limits.max_connections_per_client,
        help="open connections one client IP may hold; more get 429 and are closed (0: no limit)",
    )
    kubelets = p.add_argument_group("kubelets (pods/log, exec, attach, port-forward, nodes/proxy)")
    kubelets.add_argument(
        "--kubelet-preferred-address-types",
        type=_address_types,
        default=DEFAULT_PREFERRED_ADDRESS_TYPES,
        metavar="TYPES",
        help="the Node address types to reach kubelets at, in order (Gardener's InternalIP,Hostname,ExternalIP)",
    )
    kubelets.add_argument(
        "--kubelet-certificate-authority",
        type=Path,
        help="CA to verify kubelets' serving certificates with (default: not verified, as kube-apiserver)",
    )
    kubelets.add_argument(
        "--kubelet-client-certificate",
        type=Path,
        help="client certificate for kubelets (default: one for system:kube-apiserver:kubelet, issued at startup)",
    )
    kubelets.add_argument("--kubelet-client-key", type=Path, help="key of --kubelet-client-certificate")
    p.add_argument(
        "--service-cluster-ip-range", default="10.0.0.0/24", help="CIDR that Services' cluster IPs come from"
    )
    p.add_argument(
        "--service-node-port-range", type=_port_range, default=(30000, 32767), help="NodePorts, as FIRST-LAST"
    )
    p.add_argument("--log-format", choices=["text", "json"], default="text")
    p.add_argument("-v", "--verbose", action="store_true")
    return p.parse_args(argv)


def _port_range(value: str) -> tuple[int, int]:
    first, sep, last = value.partition("-")
    try:
        low, high = int(first), int(last if sep else first)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port range such as 30000-32767") from None
    if not 0 < low <= high <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port range within 1-65535")
    return low, high


#: kube's NodeAddressType values
_ADDRESS_TYPES = ("Hostname", "InternalIP", "ExternalIP", "InternalDNS", "ExternalDNS")


def _address_types(value: str) -> tuple[str, ...]:
    types = tuple(t.strip() for t in value.split(",") if t.strip())
    unknown = [t for t in types if t not in _ADDRESS_TYPES]
    if not types or unknown:
        raise argparse.ArgumentTypeError(f"{value!r}: each type must be one of {', '.join(_ADDRESS_TYPES)}")
    return types


def build_backend(args: argparse.Namespace) -> Backend:
    transformer: ValueTransformer | None = None
    if args.encryption_provider_config:
        from gardener.apiserver.encryption import load_encryption_config

        transformer = load_encryption_config(args.encryption_provider_config)
    if args.storage == "etcd":
        from gardener.apiserver.storage.etcd import EtcdBackend

        servers = [s.strip() for s in args.etcd_servers.split(",") if s.strip()]
        if not servers:
            raise ValueError("--storage etcd needs --etcd-servers")
        etcd = EtcdBackend(servers=servers, prefix=args.etcd_prefix, transformer=transformer)
        if not args.watch_cache:
            return etcd
        # Other replicas write too: a LIST first learns etcd's revision, so it sees their acknowledged writes.
        return CachedBackend(etcd, latest_revision=etcd._revision_now)
    backend = SQLiteBackend(args.data_dir / "state.db", synchronous=args.sqlite_synchronous, transformer=transformer)
    return CachedBackend(backend) if args.watch_cache else backend


_PKI_FLAGS = (
    "client_ca_file",
    "cluster_signing_key_file",
    "tls_cert_file",
    "tls_private_key_file",
    "service_account_signing_key_file",
)


def given_pki(args: argparse.Namespace) -> ServerPKI | None:
    given = [name for name in _PKI_FLAGS if getattr(args, name) is not None]
    if not given:
        return None
    if len(given) != len(_PKI_FLAGS):
        missing = ", ".join("--" + n.replace("_", "-") for n in _PKI_FLAGS if n not in given)
        raise ValueError(f"certificate flags go together: missing {missing}")
    return server_pki_from_files(
        data_dir=args.data_dir,
        client_ca=args.client_ca_file,
        client_ca_key=args.cluster_signing_key_file,
        tls_cert=args.tls_cert_file,
        tls_key=args.tls_private_key_file,
        service_account_key=args.service_account_signing_key_file,
    )


async def run(args: argparse.Namespace) -> int:
    data_dir: Path = args.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    tokens = load_token_file(args.token_auth_file) if args.token_auth_file else {}
    backend = build_backend(args)
    server = APIServer(
        config=ServerConfig(
            data_dir=data_dir,
            bind_address=args.bind_address,
            port=args.secure_port,
            hosts=tuple(args.tls_san),
            static_tokens=tokens,
            admin_kubeconfig=data_dir / "admin.kubeconfig",
            garden_admission=not args.disable_garden_admission,
            pki=given_pki(args),
            max_request_bytes=args.max_request_body_bytes,
            service_cluster_ip_range=args.service_cluster_ip_range,
            service_node_port_range=args.service_node_port_range,
            kubelet=KubeletClientConfig(
                preferred_address_types=args.kubelet_preferred_address_types,
                certificate_authority=args.kubelet_certificate_authority,
                client_certificate=args.kubelet_client_certificate,
                client_key=args.kubelet_client_key,
            ),
            limits=ConnectionLimits(
                header_timeout=args.request_header_timeout,
                idle_timeout=args.idle_connection_timeout,
                tls_handshake_timeout=args.tls_handshake_timeout,
                max_connections_per_client=args.max_connections_per_client,
            ),
        ),
        backend=backend,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    print(f"gardener-apiserver serving on {server.url}", flush=True)
    await stop.wait()
    log.info("Shutting down")
    await server.stop()
    return 0


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    setup_logging(log_format=args.log_format, verbose=args.verbose)
    try:
        code = asyncio.run(run(args))
    except (ValueError, OSError) as exc:
        print(f"gardener-apiserver: {exc}", file=sys.stderr)
        code = 1
    sys.exit(code)


if __name__ == "__main__":
    main()
