"""``churndb score --executor dask``: one run scored by a Dask cluster, published whole.

The coordinator (the ``churndb score`` process):

1. opens a REPEATABLE READ transaction and exports its snapshot
   (``pg_export_snapshot()``); in that snapshot it splits the customer key
   space into slices of about equal size and records them in
   ``run_partitions``;
2. submits one task per slice.  A worker verifies and loads the model itself
   (the signing key comes from the worker's own environment, never through the
   scheduler), imports the snapshot, reads its slice in key-ordered chunks,
   scores it exactly as the local executor does, and writes with COPY its
   history rows into the run's own (unattached) history table and its
   candidate targets into the run's ``score_staging`` partition — marking the
   slice done in the same transaction;
3. when every slice is done, builds the history table's indexes and publishes
   in one transaction: the history table attached to ``score_history`` (a
   catalog change: no history row is copied), targets into
   ``retention_targets``, summaries, status.

Nothing a reader looks at changes before step 3 commits.  A slice whose
worker is lost is run again by Dask: if the lost attempt had committed, the
retry finds the slice done and returns its stored counts; if not, nothing of
it was written.  Either way no row is written twice (the history table's
primary key is built before the publish, and the staged targets are counted
against the slices' own counts: an unlogged staging table emptied by a server
crash fails the run, never publishes less).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import socket
import time
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from ..base import progress
from ..base.config import load_settings
from ..base.errors import ChurnDBError, ConfigError
from ..base.text import first_line
from ..model.ensemble import threads
from ..store import db, registry, run_state, signing
from ..store.copy import copy_in
from ..store.sources import BUILTIN_TELECOM, Source
from ..store.sqlfiles import statements
from . import pipeline
from .pipeline import RunSpec, Stages, Tally
from .publish import publish

SQL = statements(__name__)

DEFAULT_PARTITION_ROWS = 250_000
TASK_RETRIES = 2  # on top of Dask's own re-run of a task whose worker died


@dataclass(frozen=True)
class PartitionTask:
    """What a worker needs to score one slice.  ``target`` is the database without a password: a worker
    connects with its own credentials (``worker_url``), so no secret travels in a task."""
    target: str = field(repr=False)
    run: RunSpec = field(repr=False)
    partition_no: int = 0
    after: int = 0
    upto: int = 0
    snapshot: str = ""


def plan(conn: psycopg.Connection, as_of, partitions: int | None, partition_rows: int, workers: int,
         source: Source = BUILTIN_TELECOM) -> tuple[int, list[tuple[int, int]]]:
    """(customers, slices): ``(after, upto]`` key ranges of about equal customer counts."""
    if partitions is None:
        partitions = max(2 * workers, -(-pipeline.count_customers(conn, as_of, source) // partition_rows))
    fractions = [i / partitions for i in range(1, partitions)]
    low, high, total, cuts = conn.execute(SQL.compose("partition_bounds", table=source.table),
                                          {"as_of_date": as_of, "fractions": fractions}).fetchone()
    if not total:
        return 0, []
    edges = [low - 1] + sorted(set(c for c in (cuts or []) if low <= c < high)) + [high]
    return total, list(zip(edges[:-1], edges[1:]))


@dataclass(frozen=True)
class SchedulerAccess:
    """How to reach an existing scheduler: TLS files (``tls://`` addresses), or the operator's explicit
    consent to plain TCP to a scheduler that is not on this machine."""
    tls_ca_file: str | None = None
    tls_client_cert: str | None = None
    tls_client_key: str | None = None
    allow_insecure: bool = False


def _security(address: str, access: SchedulerAccess):
    """The distributed ``Security`` for ``address``, or None for plain TCP where that is acceptable.

    A scheduler can run code on its workers and sees every task: a remote one must be reached over TLS,
    unless ``[score] allow_insecure_scheduler = true`` says otherwise (and then a warning says so)."""
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "tcp", address
    host = rest.rsplit(":", 1)[0].strip("[]") if ":" in rest else rest
    if scheme == "tls":
        files = (access.tls_ca_file, access.tls_client_cert, access.tls_client_key)
        if not all(files):
            raise ConfigError(f"the Dask scheduler {address} is TLS: set [score] tls_ca_file, tls_client_cert and "
                              "tls_client_key")
        from distributed.security import Security

        return Security(tls_ca_file=files[0], tls_client_cert=files[1], tls_client_key=files[2],
                        require_encryption=True)
    if scheme != "tcp":
        raise ChurnDBError(f"the Dask scheduler address {address} is neither tls:// nor tcp://")
    if _loopback(host):
        return None
    if not access.allow_insecure:
        raise ChurnDBError(f"the Dask scheduler at {address} would be reached over plain TCP, which exposes every "
                           "task to the network: use TLS (a tls:// address and the [score] tls_* files), or set [score] "
                           "allow_insecure_scheduler = true to accept the risk")
    logging.getLogger("churndb").warning("churndb: connecting to the Dask scheduler at %s without TLS, as "
                                         "[score] allow_insecure_scheduler allows", address)
    return None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _client(scheduler: str | None, workers: int, access: SchedulerAccess):
    """A client of the cluster at ``scheduler``, or of a LocalCluster of ``workers`` processes."""
    from dask.distributed import Client, LocalCluster

    if scheduler:
        security = _security(scheduler, access)
        try:
            return Client(scheduler, timeout="10s", security=security), None
        except (OSError, TimeoutError) as exc:
            raise ChurnDBError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=logging.ERROR)
    return Client(cluster), cluster


def run(url: str, control: psycopg.Connection, run: RunSpec, stages: Stages, *,
        scheduler: str | None = None, partitions: int | None = None, workers: int | None = None,
        partition_rows: int = DEFAULT_PARTITION_ROWS, access: SchedulerAccess = SchedulerAccess()) -> Tally:
    """Score ``run`` on a Dask cluster and publish it; returns the run's tally."""
    if (partitions is not None and partitions < 1) or (workers is not None and workers < 1):
        raise ChurnDBError("--partitions and --workers must be at least 1")
    workers = workers or threads()
    holder = db.snapshot_reader(url, "churndb-score-snapshot")
    client = cluster = None
    tally = Tally()
    try:
        with holder.transaction():
            snapshot = holder.execute(SQL.query("export_snapshot")).fetchone()[0]
            total, slices = plan(holder, run.as_of, partitions, partition_rows, workers, run.source)
            control.execute(SQL.query("create_run_staging"), {"run_id": run.run_id})
            pipeline.create_run_history(control, run.run_id)
            with control.transaction():
                for no, (after, upto) in enumerate(slices):
                    control.execute(SQL.query("insert_partition"), {"run_id": run.run_id, "partition_no": no,
                                                                "after": after, "upto": upto})
                run_state.set_partitions(control, run.run_id, len(slices))
            tally.partitions = len(slices)
            t = time.perf_counter()
            client, cluster = _client(scheduler, workers, access)
            tasks = partition_tasks(url, run, slices, snapshot)
            futures = [client.submit(score_partition, task, key=f"churndb-run{run.run_id}-part{task.partition_no}",
                                     pure=False, retries=TASK_RETRIES) for task in tasks]
            from dask.distributed import as_completed

            with progress.bar(total, f"scoring run {run.run_id} on {len(slices)} partitions",
                              unit="customers") as bar:
                for future in as_completed(futures):
                    part = _result(future)
                    tally.add_json(part)
                    stages.merge(part["stage_seconds"])
                    bar.update(part["customers"])
            stages.add("partitions", t)
            _publish(url, run, tally, stages, expected=total)
    except BaseException:
        try:  # the run's staged rows go with it (a killed coordinator's are dropped by the next run)
            control.execute(SQL.query("drop_run_staging"), {"run_id": run.run_id})
        except psycopg.Error:
            pass
        raise
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
        holder.close()
    return tally


def partition_tasks(url: str, run: RunSpec, slices: list[tuple[int, int]], snapshot: str) -> list[PartitionTask]:
    target = db.without_password(url)
    return [PartitionTask(target, run, no, after, upto, snapshot) for no, (after, upto) in enumerate(slices)]


def worker_url(target: str) -> str:
    """The worker's own connection to ``target``: its CHURNDB_DATABASE_URL when that points at the same
    database (with the worker's password), else ``target`` as it is (libpq then reads PGPASSWORD / .pgpass)."""
    own = load_settings().database_url
    return db.libpq_url(own) if own and db.same_target(own, target) else target


def _result(future) -> dict:
    """A slice's tally; a slice that failed on the cluster (its workers died every time, or the scheduler
    went away) becomes one line naming it."""
    try:
        return future.result()
    except ChurnDBError:
        raise
    except Exception as exc:  # noqa: BLE001 - Dask raises its own types (KilledWorker, CommClosedError, ...)
        text = first_line(exc) if str(exc).strip() else ""
        raise ChurnDBError(f"Dask task {future.key} failed ({type(exc).__name__}: {text[:300]}); "
                           "nothing was published") from None


def _publish(url: str, run: RunSpec, tally: Tally, stages: Stages, expected: int) -> None:
    writer = db.connect(url, application="churndb-score-publish")
    try:
        with writer.transaction():  # committed on its own: readers still see nothing of the run
            stages.timed("write", pipeline.index_run_history, writer, run.run_id)
        with writer.transaction():
            t = time.perf_counter()
            done, planned, customers = writer.execute(SQL.query("partitions_state"), {"run_id": run.run_id}).fetchone()
            if done != planned or not (customers == tally.customers == expected):
                raise ChurnDBError(f"run {run.run_id}: {done} of {planned} partitions done for {customers} of "
                                   f"{expected} customers; nothing was published")
            pipeline.create_target_staging(writer)
            if not run.shadow:  # run_targets' key refuses a customer staged twice
                staged = writer.execute(SQL.query("stage_targets_from_staging"), {"run_id": run.run_id}).rowcount
                if staged != tally.targeted:
                    raise ChurnDBError(f"run {run.run_id}: {staged:,} targets staged, {tally.targeted:,} scored; "
                                       "nothing was published")
            stages.add("targets", t)  # the staged targets, gathered before any lock: part of building them
            publish(writer, run, tally, stages, expected=expected)
            writer.execute(SQL.query("drop_run_staging"), {"run_id": run.run_id})
    finally:
        writer.close()


# ---- on the worker -------------------------------------------------------------------------------------------

_MODELS: dict[tuple[str, int], object] = {}


def _model(url: str, conn: psycopg.Connection, version: int, kind: str = "churn"):
    """The run's churn (or uplift) model on this worker process: verified against this worker's signing
    key, loaded once."""
    cached = _MODELS.get((url, version, kind))
    if cached is None:
        key = signing.signing_key(load_settings())
        if kind == "uplift":
            cached = registry.load_uplift(conn, key, version)
        else:
            _, cached, _ = registry.load(conn, key, version, threads=_worker_threads())
        for old in [k for k in _MODELS if k[2] == kind]:  # one model of each kind per worker at a time
            del _MODELS[old]
        _MODELS[(url, version, kind)] = cached
    return cached


def _worker_threads() -> int:
    try:
        from dask.distributed import get_worker

        return max(1, int(get_worker().state.nthreads))
    except (ImportError, ValueError, AttributeError):
        return threads()


def score_partition(task: PartitionTask) -> dict:
    """Score one slice and commit it to the run's history table and staging partition; returns the
    slice's tally.

    Idempotent: a slice already done returns its stored tally and writes nothing."""
    run = task.run
    ids = {"run_id": run.run_id, "partition_no": task.partition_no}
    worker = f"{socket.gethostname()}:{os.getpid()}"
    url = worker_url(task.target)
    writer = db.connect(url, autocommit=True, application=f"churndb-score-worker-{os.getpid()}")
    reader = None
    try:
        if writer.execute(SQL.query("claim_partition"), {**ids, "worker": worker}).fetchone() is None:
            return _stored(writer, ids)
        fitted = _model(url, writer, run.model_version)
        uplift = None if run.uplift_model_version is None else _model(url, writer, run.uplift_model_version, "uplift")
        writer.autocommit = False
        status, summary = writer.execute(SQL.query("lock_partition"), ids).fetchone()
        if status == "done":  # a lost attempt finished it after all
            writer.rollback()
            return summary
        reader = db.snapshot_reader(url, f"churndb-score-worker-{os.getpid()}-read")
        tally = Tally()
        stages = Stages()
        with reader.transaction():
            reader.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(task.snapshot)))
            pipeline.stream(reader, fitted, run, stages, tally, lambda scored, chunk: _write(writer, scored, chunk, task),
                            uplift=uplift, after=task.after, upto=task.upto)
        result = {**tally.to_json(), "stage_seconds": stages.rounded()}
        writer.execute(SQL.query("finish_partition"), {**ids, "customers": tally.customers,
                                                   "summary": json.dumps(result)})
        writer.commit()
        return result
    except psycopg.Error as exc:
        raise db.as_churndb_error(exc) from None
    finally:
        writer.close()
        if reader is not None:
            reader.close()


def _stored(conn: psycopg.Connection, ids: dict) -> dict:
    status, summary = conn.execute(SQL.query("partition_summary"), ids).fetchone() or (None, None)
    if status != "done":
        raise ChurnDBError(f"partition {ids['partition_no']} of run {ids['run_id']} is not in this run's plan")
    return summary


def _write(writer: psycopg.Connection, scored, chunk, task: PartitionTask) -> None:
    """A chunk's history rows into the run's table; (unless shadow) its candidate targets into staging."""
    pipeline.write_history(writer, scored, chunk, task.run)
    targeted = scored["targeted"].to_numpy()
    if not task.run.shadow and targeted.any():
        copy_in(writer, SQL.query("copy_staging"), _staging_frame(scored[targeted], chunk[targeted], task))


def _staging_frame(scored, chunk, task: PartitionTask):
    history = pipeline.history_frame(scored, chunk, task.run)
    frame = history[["run_id", "customer_id", "churn_probability", "risk_score", "risk_category", "retention_action",
                     "estimated_intervention_cost", "estimated_revenue_at_risk", "snapshot_date"]]
    frame.insert(1, "partition_no", task.partition_no)
    frame = frame.assign(targeted=scored["targeted"].to_numpy(), suggested_offer=scored["suggested_offer"].to_numpy(),
                         expected_net_value=scored["expected_net_value"].to_numpy(),
                         treatment_group=scored["treatment_group"].to_numpy(),
                         customer_key=scored["customer_key"].to_numpy(), offer_arm=scored["offer_arm"].to_numpy(),
                         expected_uplift=scored["expected_uplift"].to_numpy())
    return frame

