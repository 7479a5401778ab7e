"""The ``churndb`` command line.

Conventions (DESIGN.md, Interfaces): every command takes ``--json`` and then
prints exactly one JSON object as its last stdout line; exit 0 on success, 1 on
a failure explained in one line on stderr (traceback only with ``--debug``),
2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any, Callable

from .base import progress
from .base.config import load_settings
from .base.dates import parse_date
from .base.errors import ChurnDBError, UsageError
from .base.text import first_line, one_line

Handler = Callable[[argparse.Namespace], dict[str, Any]]
COMMANDS: dict[str, Handler] = {}


def command(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        COMMANDS[name] = fn
        return fn
    return register


def _url() -> str:
    from .store.db import database_url

    return database_url(load_settings())


def say(args: argparse.Namespace, text: str) -> None:
    """Human-readable output (suppressed with --json so the JSON line stays last and alone)."""
    if not args.json:
        print(text, flush=True)


# --------------------------------------------------------------------------- commands
@command("init")
def cmd_init(args: argparse.Namespace) -> dict[str, Any]:
    from .store import migrate

    revision = migrate.upgrade(_url())
    say(args, f"schema at revision {revision}")
    return {"schema_revision": revision}


@command("sample")
def cmd_sample(args: argparse.Namespace) -> dict[str, Any]:
    from .model.sample import write_sample

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
    from .ingest.snapshot import ingest_snapshot

    delimiter = {"tab": "\t", "\\t": "\t"}.get(args.delimiter, args.delimiter) if args.delimiter else "auto"
    if args.source is not None and args.table is not None:
        raise ChurnDBError("give --source NAME (a registered layout, scored end to end) or --table NAME, not both")
    if args.source not in (None, "telecom"):
        from .ingest.operator_layout import ingest_source

        result = ingest_source(_url(), Path(args.file), args.source, id_column=args.id_column,
                               label_column=args.label_column, value_column=args.value_column,
                               as_of=parse_date(args.as_of) if args.as_of else None, as_of_column=args.as_of_column,
                               exclude=_names(args.exclude), delimiter=delimiter, decimal=args.decimal,
                               row_ids=args.row_ids, accept_layout_change=args.accept_layout_change)
    elif args.table is not None:
        from .ingest.table import ingest_table

        if not args.id_column and not args.row_ids:
            raise ChurnDBError("ingest --table needs --id-column (the customer key column of the file), or "
                               "--row-ids for a training extract without one")
        result = ingest_table(_url(), Path(args.file), args.table, args.id_column, args.label_column,
                              delimiter=delimiter, decimal=args.decimal, row_ids=args.row_ids)
    else:
        if (args.id_column or args.label_column or args.row_ids or args.delimiter or args.decimal != "."
                or args.value_column or args.as_of_column or args.exclude or args.accept_layout_change):
            raise ChurnDBError("--id-column / --label-column / --value-column / --row-ids / --delimiter / --decimal "
                               "go with --source NAME (or --table): the built-in telecom layout is comma-separated "
                               "with customer_id, is_churn")
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


def _names(text: str | None) -> list[str]:
    """A comma-separated list of column names (as written in the header)."""
    return [n.strip() for n in (text or "").split(",") if n.strip()]


@command("sources")
def cmd_sources(args: argparse.Namespace) -> dict[str, Any]:
    from .store import db, sources

    url = _url()
    if args.action == "list":
        with db.connect(url) as conn:
            found = [sources.require(conn, n).describe() for n in sources.list_names(conn)]
        for d in found:
            say(args, f"{d['source']:<20} key {d['key_column'] or 'row ids'} ({d['key_type']})  label "
                      f"{d['label_column'] or '-'}  value {d['value_column'] or '- (no value column configured)'}  "
                      f"{d['table']}")
        return {"sources": [{k: v for k, v in d.items() if k != "columns"} for d in found]}
    if not args.name:
        raise UsageError(f"sources {args.action} needs a source name")
    if args.action == "show":
        with db.connect(url) as conn:
            info = sources.require(conn, args.name).describe()
        say(args, json.dumps(info, indent=2))
        return info
    # add: register a layout from a sample file without loading it
    from .ingest.operator_layout import register_from_file

    if not args.file:
        raise UsageError("sources add NAME needs --file SAMPLE.csv (its header and values give the layout)")
    delimiter = {"tab": "\t", "\\t": "\t"}.get(args.delimiter, args.delimiter) if args.delimiter else "auto"
    info = register_from_file(url, Path(args.file), args.name, id_column=args.id_column,
                              label_column=args.label_column, value_column=args.value_column,
                              as_of_column=args.as_of_column, exclude=_names(args.exclude), delimiter=delimiter,
                              decimal=args.decimal, row_ids=args.row_ids).describe()
    say(args, f"source {info['source']} registered: {len(info['columns'])} columns, key {info['key_column'] or 'row ids'}, "
              f"snapshots in {info['table']}")
    return info


@command("train")
def cmd_train(args: argparse.Namespace) -> dict[str, Any]:
    from .training.candidate import describe, train
    from .training.promotion import PromotionRule
    from .training.spec import TrainingSpec

    spec = TrainingSpec(seed=args.seed, test_size=args.test_size, threshold=args.threshold,
                        lead_days=args.lead_days, horizon_days=args.horizon_days,
                        start=parse_date(args.start, "--start") if args.start else None,
                        end=parse_date(args.end, "--end") if args.end else None)
    if args.source:
        spec.source, spec.id_column, spec.label_column = args.source, args.id_column or "customer_id", args.label_column
    if not 0.05 <= spec.test_size <= 0.5:
        raise ChurnDBError("--test-size must be between 0.05 and 0.5")
    if args.sample is not None:
        if args.sample < 100:
            raise ChurnDBError("--sample must be at least 100 rows")
        spec.sample = args.sample
    settings = load_settings()
    rule = PromotionRule.from_settings(settings, args.auc_tolerance, args.brier_tolerance)
    result = train(_url(), settings, spec, promote_if_better=args.promote_if_better, rule=rule)
    for line in describe(result):
        say(args, line)
    return result


@command("train-uplift")
def cmd_train_uplift(args: argparse.Namespace) -> dict[str, Any]:
    from .training.campaigns import describe, train_uplift

    if not args.campaign.strip():
        raise ChurnDBError("--campaign needs a campaign id (retention_targets.campaign_id)")
    result = train_uplift(_url(), load_settings(), args.campaign, args.source or "telecom", seed=args.seed)
    for line in describe(result):
        say(args, line)
    return result


@command("backtest")
def cmd_backtest(args: argparse.Namespace) -> dict[str, Any]:
    from .training.backtest import backtest, describe
    from .training.spec import TrainingSpec

    spec = TrainingSpec(start=parse_date(args.start, "--start") if args.start else None,
                        end=parse_date(args.end, "--end") if args.end else None, seed=args.seed)
    result = backtest(_url(), load_settings(), spec, folds=args.folds)
    for line in describe(result):
        say(args, line)
    return result


@command("models")
def cmd_models(args: argparse.Namespace) -> dict[str, Any]:
    from dataclasses import asdict

    from .store import db, registry

    url = _url()
    if args.action == "list":
        with db.connect(url) as conn:
            models = [asdict(m) for m in registry.list_models(conn)]
        for m in models:
            auc = "n/a" if m["auc"] is None else f"{m['auc']:.4f}"
            say(args, f"{m['model_version']:>4}  {m['status']:<9}  AUC {auc}  rows {m['rows_train'] or 0:>9,}  "
                      f"{m['source']}  created {m['created_at'][:19]}  sha256 {m['artifact_sha256'][:12]}")
        if not models:
            say(args, "no models yet: run `churndb train`")
        return {"models": models}
    if args.action == "export":
        from .store import offline, signing

        if not args.out:
            raise UsageError("models export needs --out DIR")
        with db.connect(url) as conn:
            manifest = offline.export(conn, signing.signing_key(load_settings()), _version(args), Path(args.out))
        say(args, f"model {manifest['model_version']} exported to {args.out} (artifact sha256 "
                  f"{manifest['artifact_sha256'][:12]}, manifest signed)")
        return {"model_version": manifest["model_version"], "path": args.out, "manifest": manifest}
    if args.action == "show":
        with db.connect(url) as conn:
            info = registry.show(conn, _version(args))
        say(args, json.dumps(info, indent=2, default=str))
        return {"model_version": info["model_version"], "model": info}
    with db.transaction(url) as conn:
        if args.action == "promote":
            result = registry.promote(conn, _version(args), args.reason or "manual promotion")
        else:
            result = registry.rollback(conn, args.reason or "manual rollback")
    say(args, f"model {result['model_version']} is now the champion")
    return result


def _version(args: argparse.Namespace) -> int:
    if args.version is None:
        raise ChurnDBError(f"models {args.action} needs a model version")
    return args.version


@command("score")
def cmd_score(args: argparse.Namespace) -> dict[str, Any]:
    from .scoring.coordinator import ScoreOptions, score

    if args.shadow is not None and args.model:
        raise ChurnDBError("use either --model V (publish with V) or --shadow V (score V alongside, unpublished)")
    model = args.shadow if args.shadow is not None else (args.model or "champion")
    settings = load_settings()
    options = ScoreOptions.from_settings(settings, chunk_rows=args.chunk_rows, executor=args.executor,
                                         scheduler=args.scheduler, workers=args.workers, partitions=args.partitions)
    if options.scheduler and options.executor != "dask":
        raise ChurnDBError("--scheduler is the address of a Dask scheduler: use it with --executor dask")
    if options.executor == "local" and (args.workers or args.partitions):
        raise ChurnDBError("--workers and --partitions apply to --executor dask")
    result = score(_url(), settings, model=model, as_of=parse_date(args.as_of) if args.as_of else None,
                   shadow=args.shadow is not None, campaign=args.campaign, reasons=not args.no_reasons,
                   options=options, source=args.source)
    seg = result["segments"]
    say(args, f"run {result['run_id']}: {result['customers_scored']:,} customers of {result['source']} scored with model "
              f"{result['model_version']} in {result['seconds']:.1f}s"
              + (f" on {result['partitions']} Dask partitions" if result["executor"] == "dask" else "")
              + (" (shadow: history only, not published to retention_targets)" if result["shadow"] else
                 f"; {result['targets']:,} targets ({result['control_group']:,} control)"))
    say(args, "  " + "  ".join(f"{k}: {v:,}" for k, v in seg.items()))
    say(args, "  stages: " + "  ".join(f"{k} {v:.2f}s" for k, v in result["stage_seconds"].items()))
    if result["abandoned_runs_failed"]:
        say(args, f"  marked abandoned runs failed: {result['abandoned_runs_failed']}")
    return result


@command("export")
def cmd_export(args: argparse.Namespace) -> dict[str, Any]:
    from .ops.exports import export, latest_run
    from .store import db

    from .store import sources

    source = args.source or load_settings().get("score", "source", str, sources.TELECOM)
    with db.connect(_url()) as conn:
        sources.require(conn, source)
        run = latest_run(conn, source)
        rows = export(conn, run, args.segment, Path(args.out))
    say(args, f"wrote {rows:,} {args.segment} customers of run {run.run_id} to {args.out} (highest risk first)")
    return {"rows": rows, "path": args.out, "run_id": run.run_id, "segment": args.segment}


@command("report")
def cmd_report(args: argparse.Namespace) -> dict[str, Any]:
    from .ops.report import metrics_text, write_report

    months = load_settings().get("report", "cumulative_months", int, 6, minimum=1)
    settings = load_settings()
    source = args.source or settings.get("score", "source", str, "telecom")
    result = write_report(_url(), Path(args.out), min(months, 24), source)
    say(args, metrics_text(result["metrics"]))
    say(args, f"files in {result['path']}: " + ", ".join(Path(p).name for p in result["files"].values()))
    return result


@command("monitor")
def cmd_monitor(args: argparse.Namespace) -> dict[str, Any]:
    from .ops.monitor import monitor

    result = monitor(_url(), load_settings(), args.source)
    for a in result["alerts"]:
        say(args, f"ALERT [{a['severity']}] {a['rule']}: {a['message']}")
    if not result["alerts"]:
        say(args, "no alerts")
    say(args, f"{len(result['metrics'])} metrics stored in churndb.monitoring_metrics")
    return result


@command("outcomes")
def cmd_outcomes(args: argparse.Namespace) -> dict[str, Any]:
    from .ingest.outcomes import load_outcomes

    result = load_outcomes(_url(), Path(args.file), parse_date(args.as_of) if args.as_of else None, args.source)
    say(args, f"batch {result.batch_id}: {result.rows_in:,} outcome rows in, {result.rows_loaded:,} loaded, "
              f"{result.rows_rejected:,} rejected" + (" (already loaded)" if result.already_loaded else ""))
    return result.as_dict()


@command("jobs")
def cmd_jobs(args: argparse.Namespace) -> dict[str, Any]:
    # The scheduled jobs (jobs/) sit above the library: the command line is the one module of churndb
    # that imports them.
    from jobs import catalog

    if args.name not in catalog.JOBS:
        raise ChurnDBError(f"unknown job {args.name!r}: jobs are {', '.join(catalog.JOBS)}")
    log = (lambda m: None) if args.json else (lambda m: print(m, file=sys.stderr, flush=True))
    result = catalog.run_now(args.name, _url(), load_settings(), log=log,
                          start=parse_date(args.start, "--start") if args.start else None,
                          end=parse_date(args.end, "--end") if args.end else None)
    say(args, f"job {args.name}: {result['status']}" + (f" — {result['message']}" if result.get("message") else ""))
    return result


@command("history")
def cmd_history(args: argparse.Namespace) -> dict[str, Any]:
    from .ops.history import maintain

    result = maintain(_url(), load_settings(), months_ahead=args.months_ahead, retain_months=args.retain_months)
    say(args, f"score_history: {len(result['partitions'])} monthly partitions"
              + (f"; created {', '.join(result['created'])}" if result["created"] else "")
              + (f"; archived {', '.join(result['archived'])} to churndb_archive" if result["archived"] else "")
              + (f"; busy, left for next time: {', '.join(result['busy'])}" if result["busy"] else ""))
    return result


@command("scheduler")
def cmd_scheduler(args: argparse.Namespace) -> dict[str, Any]:
    from jobs import scheduler

    return scheduler.serve(_url(), load_settings(), log=lambda m: print(m, file=sys.stderr, flush=True))


@command("status")
def cmd_status(args: argparse.Namespace) -> dict[str, Any]:
    from .ops.status import status

    info = status(_url())
    for line in info.pop("_lines"):
        say(args, line)
    return info


@command("doctor")
def cmd_doctor(args: argparse.Namespace) -> dict[str, Any]:
    from .doctor import Check, diagnose, report

    try:
        checks = diagnose(_url(), load_settings())
    except ChurnDBError as exc:  # no database to look at (the embedded one would not start, a bad URL)
        checks = [Check("database", "fail", first_line(exc))]
    for c in checks:
        say(args, f"{c.status:<4}  {c.check:<12} {one_line(c.message)}")
    result = report(checks)
    if not result["ok"]:
        raise DoctorFailed(result)
    return result


class DoctorFailed(ChurnDBError):
    """Some check failed: the command prints its report (and JSON) and exits 1."""

    def __init__(self, result: dict):
        super().__init__(f"{sum(c['status'] == 'fail' for c in result['checks'])} check(s) failed")
        self.result = result


@command("demo")
def cmd_demo(args: argparse.Namespace) -> dict[str, Any]:
    from .demo import run_demo

    return run_demo(args, say=lambda text: say(args, text))


# --------------------------------------------------------------------------- parser
def _layout_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--id-column", help="the customer key column, as in the header")
    p.add_argument("--label-column", help="the churn label column (yes/no, 1/0, true/false, VRAI/FAUX, ...)")
    p.add_argument("--value-column", help="with --source: monthly revenue per customer (revenue at risk, ROI)")
    p.add_argument("--as-of-column", help="with --source: each row's snapshot date (instead of --as-of)")
    p.add_argument("--exclude", help="with --source: comma-separated columns never loaded or learned from")
    p.add_argument("--delimiter", help=", ; | or tab (default: detected)")
    p.add_argument("--decimal", default=".", help="the decimal mark, . (default) or ,")
    p.add_argument("--row-ids", action="store_true",
                   help="no key column: key each record by file and line (training and evaluation only)")


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

    p = sub.add_parser("ingest", parents=[common],
                       help="load a CSV: a telecom snapshot, a snapshot of your own layout (--source), or --table")
    p.add_argument("file")
    p.add_argument("--as-of", help="snapshot date YYYY-MM-DD (default: today)")
    p.add_argument("--source", help="a snapshot of this source (your own layout; created by its first file)")
    p.add_argument("--table", help="load into churndb_import.TABLE with inferred column types (training only)")
    _layout_options(p)
    p.add_argument("--accept-layout-change", action="store_true",
                   help="with --source: accept (and record) new or missing columns against the registered layout")

    p = sub.add_parser("sources", parents=[common], help="registered customer layouts: list, show, add")
    p.add_argument("action", choices=["list", "show", "add"])
    p.add_argument("name", nargs="?")
    p.add_argument("--file", help="with add: a sample file whose header and values give the layout")
    _layout_options(p)

    p = sub.add_parser("train", parents=[common], help="fit the stacked ensemble, measure on a hold-out, register a candidate")
    p.add_argument("--source", help="train from this table or view instead of customer_snapshots")
    p.add_argument("--id-column", help="with --source: the customer key column")
    p.add_argument("--label-column", help="with --source: the churn label column")
    p.add_argument("--sample", type=int, metavar="N",
                   help="train on a stratified sample of about N labelled rows drawn in the database "
                        "(for windows larger than this machine should hold)")
    p.add_argument("--start", help="first snapshot date of the training window (YYYY-MM-DD)")
    p.add_argument("--end", help="last snapshot date of the training window (YYYY-MM-DD)")
    p.add_argument("--lead-days", type=int, default=0, help="days between snapshot and prediction window")
    p.add_argument("--horizon-days", type=int, default=90, help="length of the prediction window in days")
    p.add_argument("--test-size", type=float, default=0.2, help="hold-out share when there is one snapshot date")
    p.add_argument("--threshold", type=float, default=0.5, help="probability at which a customer counts as a churner")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--promote-if-better", action="store_true",
                   help="promote if not worse than the champion on the same hold-out (AUC and Brier)")
    p.add_argument("--auc-tolerance", type=float, help="AUC the candidate may lose (default 0.005, [retrain])")
    p.add_argument("--brier-tolerance", type=float, help="Brier the candidate may gain (default 0.002, [retrain])")

    p = sub.add_parser("train-uplift", parents=[common],
                       help="learn what a contact buys from a matured campaign (treated vs control outcomes); "
                            "used for uplift targeting only if it beats ranking by churn risk on its hold-out")
    p.add_argument("--campaign", required=True, help="the campaign id whose outcomes have matured")
    p.add_argument("--source", help="the source the campaign scored (default: the telecom layout)")
    p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser("backtest", parents=[common],
                       help="time-ordered evaluation: train on snapshots up to a date, test on the next")
    p.add_argument("--start", help="first snapshot date (YYYY-MM-DD)")
    p.add_argument("--end", help="last snapshot date (YYYY-MM-DD)")
    p.add_argument("--folds", type=int, help="the last N test dates (default: every date after the first)")
    p.add_argument("--seed", type=int, default=42)

    p = sub.add_parser("models", parents=[common], help="the model registry: list, show, promote, rollback, export")
    p.add_argument("action", choices=["list", "show", "promote", "rollback", "export"])
    p.add_argument("version", nargs="?", type=int)
    p.add_argument("--reason", help="why (recorded with the promotion / rollback)")
    p.add_argument("--out", help="export: the folder for artifact, manifest and signature")

    p = sub.add_parser("score", parents=[common], help="score every customer and publish one run")
    p.add_argument("--source", help="the source to score (default: [score] source, else telecom)")
    p.add_argument("--model", help="model version to publish with (default: the source's champion)")
    p.add_argument("--shadow", type=int, metavar="V", help="score challenger V into history only, marked shadow")
    p.add_argument("--as-of", help="use each customer's latest snapshot on or before this date")
    p.add_argument("--campaign", help="campaign id for control-group assignment (default: calendar quarter)")
    p.add_argument("--no-reasons", action="store_true", help="skip reason codes (TreeSHAP) for this run")
    p.add_argument("--chunk-rows", type=int, help=argparse.SUPPRESS)
    p.add_argument("--executor", choices=["local", "dask"],
                   help="local (default): this process; dask: partitions scored by Dask workers")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="Dask scheduler, e.g. tcp://10.0.0.5:8786 (default: a local cluster of --workers processes)")
    p.add_argument("--workers", type=int, help="worker processes of the local Dask cluster (default: cores)")
    p.add_argument("--partitions", type=int,
                   help="key-range partitions (default: one per 250,000 customers, at least 2 per worker)")

    p = sub.add_parser("export", parents=[common], help="CRM-ready CSV of the latest published run")
    p.add_argument("--segment", required=True,
                   help="a segment of the run's policy (critical, high, medium, low by default) or all")
    p.add_argument("--out", required=True)
    p.add_argument("--source", help="the source's latest run (default: [score] source, else telecom)")

    p = sub.add_parser("report", parents=[common], help="deployment metrics and exports of the latest run")
    p.add_argument("--out", required=True, help="directory for the report files")
    p.add_argument("--source", help="the source's latest run (default: [score] source, else telecom)")

    p = sub.add_parser("monitor", parents=[common], help="drift, predicted vs actual, ROI checks; writes alerts")
    p.add_argument("--source", help="the source's runs (default: [score] source, else telecom)")

    p = sub.add_parser("outcomes", parents=[common], help="record what happened to customers (churn, contacts)")
    p.add_argument("action", choices=["load"])
    p.add_argument("file")
    p.add_argument("--as-of", help="the date the feed covers (default: today)")
    p.add_argument("--source", help="the feed of this source, keyed as its files write the key (default: telecom)")

    p = sub.add_parser("jobs", parents=[common], help="run one scheduled job now")
    p.add_argument("action", choices=["run"])
    p.add_argument("name", help="ingest_feed | outcomes | score | monitor | retrain | history")
    p.add_argument("--start", help="retrain: first snapshot date of the training window")
    p.add_argument("--end", help="retrain: last snapshot date of the training window")

    p = sub.add_parser("history", parents=[common],
                       help="create score_history partitions ahead; archive those past the retention")
    p.add_argument("--months-ahead", type=int, help="months of partitions to keep ready (default 3)")
    p.add_argument("--retain-months", type=int,
                   help="detach partitions older than this many months into churndb_archive (default: keep all)")

    sub.add_parser("scheduler", parents=[common], help="run the jobs on their schedules until SIGTERM")

    sub.add_parser("status", parents=[common], help="what is loaded, trained and published")
    sub.add_parser("doctor", parents=[common], help="health checks, one line each (exit 1 if any fails)")
    sub.add_parser("demo", parents=[common], help="everything end to end on synthetic data")
    return parser


def _database_problem(exc: Exception) -> str | None:
    """One line for driver errors that escape a module's own translation (e.g. via Alembic)."""
    import psycopg
    import sqlalchemy.exc

    from .store.db import scrub

    inner = exc.orig if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.orig is not None else exc
    if isinstance(inner, psycopg.Error):
        return "database error: " + scrub(first_line(inner), load_settings().database_url)
    return None


def _scrubbed(text: str) -> str:
    """No configured password reaches stderr, whatever message carries it."""
    from .store.db import scrub

    try:
        return scrub(text, load_settings().database_url)
    except ChurnDBError:
        return text


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    progress.configure(not args.json)
    if not args.debug:
        # psycopg warns when it cannot roll back on a dead connection; the one-line error says it all.
        logging.getLogger("psycopg").setLevel(logging.CRITICAL)
    t0 = time.perf_counter()
    try:
        result = COMMANDS[args.command](args)
    except ChurnDBError as exc:
        if args.debug:
            raise
        if isinstance(exc, DoctorFailed) and args.json:
            print(json.dumps(exc.result, default=str))
        print(f"churndb {args.command}: error: {one_line(_scrubbed(str(exc)))}", file=sys.stderr)
        return 2 if isinstance(exc, UsageError) else 1
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
        print(f"churndb {args.command}: internal error: {type(exc).__name__}: {one_line(first_line(exc)) if str(exc).strip() else ''} "
              "(rerun with --debug for the traceback)", file=sys.stderr)
        return 1
    if args.json:
        result.setdefault("seconds_total", round(time.perf_counter() - t0, 3))
        print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
