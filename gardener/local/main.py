"""`gardener local up|down|status [--data-dir DIR]`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gardener.local.garden import BringUpError, Layout, down, status, up


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="gardener", description="The all-in-one local garden")
    sub = p.add_subparsers(dest="group", required=True)
    local = sub.add_parser("local", help="run a garden on this machine")
    verbs = local.add_subparsers(dest="verb", required=True)
    for verb in ("up", "down", "status"):
        v = verbs.add_parser(verb)
        v.add_argument("--data-dir", type=Path, default=Path(".gardener-local"), help="where state and logs live")
        if verb == "up":
            v.add_argument("--port", type=int, default=0, help="API server port (0 picks a free one)")
            v.add_argument("--no-seed", action="store_true", help="start only the garden, without the local seed")
    args = p.parse_args(argv)
    layout = Layout(args.data_dir.resolve())
    try:
        if args.verb == "up":
            up(layout, port=args.port, with_seed=not args.no_seed)
            print(f"garden is up; export KUBECONFIG={layout.garden_kubeconfig}")
        elif args.verb == "down":
            stopped = down(layout)
            print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
        else:
            print(json.dumps(status(layout), indent=2))
    except BringUpError as exc:
        print(f"gardener local {args.verb}: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
