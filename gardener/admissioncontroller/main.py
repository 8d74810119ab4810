"""`gardener-admission-controller --kubeconfig FILE --tls-cert-file C --tls-private-key-file K [--port N]`."""

from __future__ import annotations

import argparse
import logging
import ssl

from aiohttp import web

from gardener.admissioncontroller.lookup import APILookup
from gardener.admissioncontroller.server import build_app
from gardener.runtime.kube import Kube


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="gardener-admission-controller")
    p.add_argument("--kubeconfig", required=True, help="kubeconfig of the garden (to read CloudProfiles, ...)")
    p.add_argument("--tls-cert-file", required=True)
    p.add_argument("--tls-private-key-file", required=True)
    p.add_argument("--bind-address", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9443)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    kube = Kube.from_kubeconfig(args.kubeconfig, field_manager="gardener-admission-controller")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.tls_cert_file, args.tls_private_key_file)
    web.run_app(build_app(APILookup(kube)), host=args.bind_address, port=args.port, ssl_context=context, print=None)


if __name__ == "__main__":
    main()
