"""Renders the charts under `charts/<name>/` (jinja2 templates + values.yaml) into manifests.

`python -m gardener.charts garden [--set key=value ...] [--generate-certs]` prints the garden chart:
the garden API's CRDs (generated from the Python types) and gardener-admission-controller with its
webhook configurations, ready for `kubectl apply -f -` on a real Kubernetes garden.
"""

from __future__ import annotations

import argparse
import base64
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
import yaml

from gardener.assets import charts_dir

CHARTS = charts_dir()


def _b64(value: str | bytes) -> str:
    raw = value.encode() if isinstance(value, str) else value
    return base64.b64encode(raw).decode()


def render(chart: str, values: Mapping[str, Any], *, charts: Path = CHARTS) -> list[dict[str, Any]]:
    """All documents of the chart's templates, in file order; unknown values are an error, not blanks."""
    root = charts / chart
    defaults = yaml.safe_load((root / "values.yaml").read_text()) or {}
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(root / "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["b64encode"] = _b64
    docs: list[dict[str, Any]] = []
    for name in sorted(env.list_templates(extensions=["j2"])):
        text = env.get_template(name).render({**defaults, **values})
        docs += [d for d in yaml.safe_load_all(text) if d]
    return docs


def garden_manifests(values: Mapping[str, Any]) -> list[dict[str, Any]]:
    from gardener.apis.crds import all_crds

    return [*all_crds(), *render("garden", values)]


def _generate_certs(namespace: str) -> dict[str, str]:
    from gardener.runtime.pki import create_ca, issue_serving_cert

    ca = create_ca(common_name="gardener-admission-controller-ca")
    service = f"gardener-admission-controller.{namespace}"
    cert = issue_serving_cert(
        ca,
        common_name=f"{service}.svc",
        dns_names=[service, f"{service}.svc", f"{service}.svc.cluster.local"],
        ip_addresses=[],
    )
    return {"caBundle": ca.cert_pem.decode(), "tlsCert": cert.cert_pem.decode(), "tlsKey": cert.key_pem.decode()}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m gardener.charts")
    p.add_argument("chart", choices=["garden"])
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a value")
    p.add_argument("--generate-certs", action="store_true", help="create a CA and serving certificate for the webhook")
    args = p.parse_args(argv)
    values: dict[str, Any] = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            print(f"gardener.charts: --set needs KEY=VALUE, got {item!r}", file=sys.stderr)
            sys.exit(2)
        values[key] = yaml.safe_load(value)
    if args.generate_certs:
        values.update(_generate_certs(str(values.get("namespace", "garden"))))
    try:
        docs = garden_manifests(values)
    except jinja2.UndefinedError as exc:
        print(f"gardener.charts: {exc}", file=sys.stderr)
        sys.exit(1)
    yaml.safe_dump_all(docs, sys.stdout, sort_keys=False)


if __name__ == "__main__":
    main()
