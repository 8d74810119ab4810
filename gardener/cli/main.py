"""`gardenctl`: config set-garden, target garden|project|shoot|view|unset, get|ls shoots|seeds|projects,
register seed.

Errors end as one line on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import yaml

from gardener.cli import register, session
from gardener.cli.garden import GardenClient, GardenError

KINDS = {
    "shoots": ("shoots", True),
    "shoot": ("shoots", True),
    "seeds": ("seeds", False),
    "seed": ("seeds", False),
    "projects": ("projects", False),
    "project": ("projects", False),
}


def fail(message: str) -> NoReturn:
    print(f"gardenctl: {message}", file=sys.stderr)
    sys.exit(1)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gardenctl", description="Work with gardens, projects and shoots")
    sub = p.add_subparsers(dest="cmd", required=True)
    cfg = sub.add_parser("config", help="manage gardens")
    cfg_sub = cfg.add_subparsers(dest="action", required=True)
    sg = cfg_sub.add_parser("set-garden", help="add or change a garden")
    sg.add_argument("name")
    sg.add_argument("--kubeconfig", required=True, help="path to the kubeconfig file of the garden cluster")
    cfg_sub.add_parser("view", help="show the configuration")
    tgt = sub.add_parser(
        "target",
        help="set or show the target",
        description="Set the target with a subcommand (target shoot NAME) or with flags, as gardenctl-v2 does: "
        "target --garden G --project P --shoot S",
    )
    tgt.add_argument("--garden", help="target this garden (resets project and shoot)")
    tgt.add_argument("--project", help="target this project of the garden")
    tgt.add_argument("--shoot", help="target this shoot of the project")
    tgt_sub = tgt.add_subparsers(dest="level")
    for level in ("garden", "project", "shoot"):
        t = tgt_sub.add_parser(level, help=f"target a {level}")
        t.add_argument("name")
    tgt_sub.add_parser("view", help="show the target")
    tgt_sub.add_parser("unset", help="forget the target")
    for verb in ("get", "ls"):
        g = sub.add_parser(verb, help="list shoots, seeds or projects")
        g.add_argument("kind", choices=sorted(KINDS))
        g.add_argument("name", nargs="?")
        g.add_argument("-o", "--output", choices=["table", "yaml", "json"], default="table", help="(default: table)")
        g.add_argument("-A", "--all-projects", action="store_true", help="shoots of every project")
    reg = sub.add_parser("register", help="prepare a new seed's gardenlet")
    reg_sub = reg.add_subparsers(dest="kind", required=True)
    rs = reg_sub.add_parser("seed", help="bootstrap token, bootstrap kubeconfig and gardenlet configuration")
    rs.add_argument("name")
    rs.add_argument("--provider", required=True, help="provider type of the seed, e.g. local")
    rs.add_argument("--region", required=True)
    rs.add_argument("--zones", action="append", default=[], help="zone of the seed (repeat or comma-separate)")
    rs.add_argument("--kubeconfig", help="garden admin kubeconfig (default: the targeted garden's)")
    rs.add_argument("--output-dir", default=".", help="where the gardenlet's files go (default: .)")
    rs.add_argument(
        "--seed-kubeconfig", type=Path, help="kubeconfig of the seed cluster (put into the gardenlet's config)"
    )
    return p


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        run(args)
    except GardenError as exc:
        fail(str(exc))
    except (ValueError, OSError) as exc:
        fail(str(exc))


def run(args: argparse.Namespace) -> None:
    if args.cmd == "config":
        config = session.load_config()
        if args.action == "set-garden":
            kubeconfig = Path(args.kubeconfig).expanduser().resolve()
            if not kubeconfig.is_file():
                raise GardenError(f"kubeconfig {kubeconfig} does not exist")
            gardens = dict(config.gardens)
            gardens[args.name] = str(kubeconfig)
            session.save_config(session.Config(gardens=gardens))
            print(f"garden {args.name} configured")
        else:
            print(yaml.safe_dump({"gardens": config.gardens}), end="")
        return
    if args.cmd == "target":
        target(args)
        return
    if args.cmd == "register":
        register_seed(args)
        return
    listing(args)


def _client(t: session.Target) -> GardenClient:
    if not t.garden:
        raise GardenError("no garden targeted: run gardenctl target garden NAME")
    kubeconfig = session.load_config().gardens.get(t.garden)
    if kubeconfig is None:
        raise GardenError(
            f'garden "{t.garden}" is not configured: run gardenctl config set-garden {t.garden} --kubeconfig FILE'
        )
    return GardenClient(kubeconfig)


def target(args: argparse.Namespace) -> None:
    """`target LEVEL NAME`, or gardenctl-v2's flags; both at once work too, the subcommand naming the deepest level."""
    current = session.load_target()
    if args.level == "view":
        print(yaml.safe_dump({k: v for k, v in vars(current).items() if v}) or "no target\n", end="")
        return
    if args.level == "unset":
        session.save_target(session.Target())
        print("target unset")
        return
    wanted = {"garden": args.garden, "project": args.project, "shoot": args.shoot}
    if args.level:
        wanted[args.level] = args.name
    if not any(wanted.values()):
        raise GardenError(
            "nothing to target: run gardenctl target garden|project|shoot NAME, or pass --garden, --project, --shoot"
        )
    new = current
    if wanted["garden"]:
        garden = wanted["garden"]
        if garden not in session.load_config().gardens:
            raise GardenError(
                f'garden "{garden}" is not configured: run gardenctl config set-garden {garden} --kubeconfig FILE'
            )
        new = new.with_garden(wanted["garden"])
    if wanted["project"]:
        client = _client(new)
        client.get("projects", wanted["project"], namespace=None)  # must exist and be visible to the user
        new = new.with_project(wanted["project"])
    if wanted["shoot"]:
        if not new.project:
            raise GardenError("no project targeted: run gardenctl target project NAME first, or pass --project")
        client = _client(new)
        client.get("shoots", wanted["shoot"], namespace=client.project_namespace(new.project))
        new = new.with_shoot(wanted["shoot"])
    session.save_target(new)
    level = "shoot" if wanted["shoot"] else "project" if wanted["project"] else "garden"
    print(f'Successfully targeted {level} "{wanted[level]}"')


def register_seed(args: argparse.Namespace) -> None:
    kubeconfig = args.kubeconfig
    if not kubeconfig:
        current = session.load_target()
        kubeconfig = session.load_config().gardens.get(current.garden) if current.garden else None
    if not kubeconfig:
        raise GardenError("no garden kubeconfig: pass --kubeconfig or run gardenctl target garden NAME")
    zones = tuple(z.strip() for value in args.zones for z in value.split(",") if z.strip())
    seed = register.SeedRegistration(
        name=args.name,
        provider=args.provider,
        region=args.region,
        zones=zones,
        seed_kubeconfig=args.seed_kubeconfig.resolve() if args.seed_kubeconfig else None,
    )
    done = register.register_seed(seed, kubeconfig=Path(kubeconfig), output_dir=Path(args.output_dir))
    print(f"Bootstrap token {done.token_id} created (valid 24h); bootstrap kubeconfig: {done.bootstrap_kubeconfig}")
    print(f"Gardenlet configuration: {done.config}")
    print("Start the gardenlet with:")
    print(f"  {done.command}")


def listing(args: argparse.Namespace) -> None:
    resource, namespaced = KINDS[args.kind]
    current = session.load_target()
    client = _client(current)
    namespace: str | None = None
    if namespaced and not args.all_projects:
        if not current.project:
            raise GardenError("no project targeted: run gardenctl target project NAME, or pass -A")
        namespace = client.project_namespace(current.project)
    if args.output == "table":
        table = client.table(resource, args.name, namespace=namespace)
        print(render_table(table, with_namespace=namespaced and namespace is None))
        return
    obj: Any = (
        client.get(resource, args.name, namespace=namespace)
        if args.name
        else client.list(resource, namespace=namespace)
    )
    print(
        json.dumps(obj, indent=2) if args.output == "json" else yaml.safe_dump(obj, sort_keys=False),
        end="\n" if args.output == "json" else "",
    )


def render_table(table: dict[str, Any], *, with_namespace: bool) -> str:
    columns = [c for c in table.get("columnDefinitions") or [] if not c.get("priority")]
    keep = [i for i, c in enumerate(table.get("columnDefinitions") or []) if not c.get("priority")]
    header = [c["name"].upper() for c in columns]
    rows: list[list[str]] = []
    for row in table.get("rows") or []:
        cells = ["" if row["cells"][i] is None else str(row["cells"][i]) for i in keep]
        if with_namespace:
            cells.insert(0, str(row.get("object", {}).get("metadata", {}).get("namespace", "")))
        rows.append(cells)
    if with_namespace:
        header.insert(0, "NAMESPACE")
    if not rows:
        return "No resources found."
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "   ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]
    )


if __name__ == "__main__":
    main()
