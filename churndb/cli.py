"""The ``churndb`` command line.

Conventions (DESIGN.md, Interfaces): every command takes ``--json`` and then
prints exactly one JSON object as its last stdout line; exit 0 on success, 1 on
a failure explained in one line on stderr (traceback only with ``--debug``),
2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

from . import progress
from .config import load_settings
from .errors import ChurnDBError

Handler = Callable[[argparse.Namespace], dict[str, Any]]
COMMANDS: dict[str, Handler] = {}


def command(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        COMMANDS[name] = fn
        return fn
    return register


def _url() -> str:
    from .db import database_url

    return database_url(load_settings())


def say(args: argparse.Namespace, text: str) -> None:
    """Human-readable output (suppressed with --json so the JSON line stays last and alone)."""
    if not args.json:
        print(text, flush=True)


# --------------------------------------------------------------------------- commands
@command("init")
def cmd_init(args: argparse.Namespace) -> dict[str, Any]:
    from . import migrate

    revision = migrate.upgrade(_url())
    say(args, f"schema at revision {revision}")
    return {"schema_revision": revision}


@command("sample")
def cmd_sample(args: argparse.Namespace) -> dict[str, Any]:
    from .sample import write_sample

    if args.rows < 1:
        raise ChurnDBError("--rows must be at least 1")
    out = Path(args.out)
    t0 = time.perf_counter()
    try:
        rows = write_sample(args.rows, out, seed=args.seed)
    except OSError as exc:
        raise ChurnDBError(f"cannot write {out}: {exc.strerror}") from None
    say(args, f"wrote {rows:,} synthetic customers to {out} in {time.perf_counter() - t0:.1f}s")
    return {"rows": rows, "path": str(out), "seed": args.seed}


@command("ingest")
def cmd_ingest(args: argparse.Namespace) -> dict[str, Any]:
    from .ingest import ingest_snapshot, parse_date

    if args.table is not None:
        from .ingest_table import ingest_table

        if not args.id_column:
            raise ChurnDBError("ingest --table needs --id-column (the customer key column of the file)")
        result = ingest_table(_url(), Path(args.file), args.table, args.id_column, args.label_column)
    else:
        if args.id_column or args.label_column:
            raise ChurnDBError("--id-column / --label-column go with --table (telecom files use customer_id, is_churn)")
        as_of = parse_date(args.as_of) if args.as_of else None
        result = ingest_snapshot(_url(), Path(args.file), as_of)
    if result.already_loaded:
        say(args, f"{args.file} was already loaded as batch {result.batch_id}; nothing changed")
    else:
        say(args, f"batch {result.batch_id}: {result.rows_in:,} rows in, {result.rows_loaded:,} loaded into "
                  f"{result.table}, {result.rows_rejected:,} rejected, {result.labels_loaded:,} labels")
        if result.rows_rejected:
            say(args, f"  rejected rows are in churndb.rejected_rows (batch_id = {result.batch_id})")
    if result.ignored_columns:
        say(args, f"  columns not in the telecom layout were ignored: {', '.join(result.ignored_columns)}")
    return result.as_dict()


@command("status")
def cmd_status(args: argparse.Namespace) -> dict[str, Any]:
    from .status import status

    info = status(_url())
    for line in info.pop("_lines"):
        say(args, line)
    return info


@command("demo")
def cmd_demo(args: argparse.Namespace) -> dict[str, Any]:
    from .demo import run_demo

    return run_demo(args, say=lambda text: say(args, text))


# --------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print one JSON object as the last stdout line")
    common.add_argument("--debug", action="store_true", help="show tracebacks on failure")
    parser = argparse.ArgumentParser(prog="churndb", description="Churn scoring with PostgreSQL as the system of record.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("init", parents=[common], help="migrate the database to head, seed the default policy")

    p = sub.add_parser("sample", parents=[common], help="write synthetic customers (telecom schema, with labels)")
    p.add_argument("--rows", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=42)

    p = sub.add_parser("ingest", parents=[common], help="load a CSV (telecom snapshot, or any CSV with --table)")
    p.add_argument("file")
    p.add_argument("--as-of", help="snapshot date YYYY-MM-DD (default: today, UTC)")
    p.add_argument("--table", help="load into churndb_import.TABLE with inferred column types")
    p.add_argument("--id-column", help="with --table: the customer key column")
    p.add_argument("--label-column", help="with --table: the churn label column (0/1, yes/no, true/false)")

    sub.add_parser("status", parents=[common], help="what is loaded, trained and published")
    sub.add_parser("demo", parents=[common], help="everything end to end on synthetic data")
    return parser


def _database_problem(exc: Exception) -> str | None:
    """One line for driver errors that escape a module's own translation (e.g. via Alembic)."""
    import psycopg
    import sqlalchemy.exc

    from .db import redact

    inner = exc.orig if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.orig is not None else exc
    if isinstance(inner, psycopg.Error):
        text = str(inner).strip().splitlines()
        return "database error: " + redact(text[0] if text else type(inner).__name__)
    return None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    progress.configure(not args.json)
    t0 = time.perf_counter()
    try:
        result = COMMANDS[args.command](args)
    except ChurnDBError as exc:
        if args.debug:
            raise
        print(f"churndb {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"churndb {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        database_problem = _database_problem(exc)
        if database_problem:
            print(f"churndb {args.command}: error: {database_problem}", file=sys.stderr)
            return 1
        # Anything else is a bug: still one line, the traceback behind --debug.
        print(f"churndb {args.command}: internal error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
              "(rerun with --debug for the traceback)", file=sys.stderr)
        return 1
    if args.json:
        result.setdefault("seconds_total", round(time.perf_counter() - t0, 3))
        print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
