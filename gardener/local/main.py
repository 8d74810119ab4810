"""`gardener local up|down|status [--data-dir DIR]`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gardener.local.garden import BringUpError, Layout, UpResult, down, status, up

DEFAULT_DATA_DIR = Path(".gardener-local")
VERBS = {
    "up": "start the garden and its local seed, or what of them is not running",
    "down": "stop every process of the garden, shoot control planes included",
    "status": "show which components run",
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gardener", description="The all-in-one local garden")
    sub = p.add_subparsers(dest="group", required=True)
    local = sub.add_parser("local", help="run a garden on this machine", description="Run a garden on this machine")
    verbs = local.add_subparsers(dest="verb", required=True)
    for verb, text in VERBS.items():
        v = verbs.add_parser(verb, help=text, description=text[0].upper() + text[1:])
        v.add_argument(
            "--data-dir",
            type=Path,
            default=DEFAULT_DATA_DIR,
            metavar="DIR",
            help=f"where state and logs live; one garden per data dir (default: {DEFAULT_DATA_DIR})",
        )
        if verb == "up":
            v.add_argument(
                "--port",
                type=int,
                default=0,
                help="garden API server port (default: 0, the port of the last start if free, else a free one)",
            )
            v.add_argument("--no-seed", action="store_true", help="start only the garden, without the local seed")
            v.add_argument(
                "--seed-nodes",
                type=int,
                choices=range(1, 17),
                default=1,
                metavar="N",
                help="kubelets (nodes) of the local seed, 1 to 16 (default: 1)",
            )
        if verb == "status":
            v.add_argument("-o", "--output", choices=["table", "json"], default="table", help="(default: table)")
    return p


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    layout = Layout(args.data_dir.resolve())
    try:
        if args.verb == "up":
            print(up_message(up(layout, port=args.port, with_seed=not args.no_seed, seed_nodes=args.seed_nodes)))
        elif args.verb == "down":
            stopped = down(layout)
            print(
                f"stopped the garden in {layout.data_dir}: {', '.join(stopped)}"
                if stopped
                else f"nothing was running in {layout.data_dir}"
            )
        elif args.output == "json":
            print(json.dumps({"dataDir": str(layout.data_dir), **status(layout)}, indent=2))
        else:
            print(status_table(layout.data_dir, status(layout)))
    except BringUpError as exc:
        print(f"gardener local {args.verb}: {exc}", file=sys.stderr)
        sys.exit(1)


def up_message(result: UpResult) -> str:
    """What `up` did, where the garden is, and the one line to paste."""
    if not result.already_running:
        head = f"garden is up in {result.data_dir}"
    elif not result.started:
        head = f"garden is already up in {result.data_dir}; nothing to start"
    else:
        head = f"garden was already running in {result.data_dir}; started what was missing: {', '.join(result.started)}"
    rows = [("API server", result.server)]
    if result.networks is not None:
        rows.append(("loopback", result.networks.describe()))
    rows.append(("CloudProfile", "local (created)" if result.cloudprofile_created else "local (exists, left as it is)"))
    rows.append(("logs", str(result.data_dir / "logs")))
    return "\n".join([head, *_rows(rows, indent="  "), f"export KUBECONFIG={result.kubeconfig}"])


def status_table(data_dir: Path, state: dict[str, Any]) -> str:
    components = [(name, v) for name, v in state.items() if isinstance(v, dict) and "running" in v]
    cells = [("NAME", "RUNNING", "PID")]
    cells += [(name, str(v["running"]).lower(), str(v["pid"] or "-")) for name, v in components]
    widths = [max(len(row[i]) for row in cells) for i in range(3)]
    lines = ["   ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    rows = [("data dir", str(data_dir))]
    if "garden" in state:
        rows += [("API server", state["garden"]["server"]), ("kubeconfig", state["garden"]["kubeconfig"])]
    if "networks" in state:
        nets = state["networks"]
        rows.append(
            ("loopback", f"pods {nets['pods']}, services {nets['services']}, load balancers {nets['loadBalancers']}")
        )
    return "\n".join([*lines, "", *_rows(rows, indent="")])


def _rows(rows: list[tuple[str, str]], *, indent: str) -> list[str]:
    width = max(len(k) for k, _ in rows)
    return [f"{indent}{k.ljust(width)}   {v}" for k, v in rows]


if __name__ == "__main__":
    main()
