"""The local executor: this process scores every customer and publishes the run.

The latest snapshot of every customer is streamed in key-ordered chunks from one REPEATABLE READ
snapshot (memory stays flat; the run sees one consistent state of the customer base), scored, and
written with COPY into the run's own history table and its staged targets, all in the run's one write
transaction, which ends with the publish (attaching the table to ``score_history``).
"""

from __future__ import annotations

from ..base import progress
from ..model.predictor import ChurnModel
from ..store import db
from . import pipeline
from .pipeline import RunSpec, Stages, Tally
from .publish import publish


def run(url: str, model: ChurnModel, spec: RunSpec, stages: Stages, uplift=None) -> Tally:
    reader = db.snapshot_reader(url, "churndb-score-read")
    writer = db.connect(url, application="churndb-score-write")
    tally = Tally()
    try:
        with reader.transaction(), writer.transaction():
            total = pipeline.count_customers(reader, spec.as_of, spec.source)
            pipeline.create_target_staging(writer)
            pipeline.create_run_history(writer, spec.run_id)
            with progress.bar(total, f"scoring run {spec.run_id}", unit="customers") as bar:
                pipeline.stream(reader, model, spec, stages, tally,
                                lambda scored, chunk: pipeline.write_history_and_targets(writer, scored, chunk, spec),
                                progress=bar, uplift=uplift)
            stages.timed("write", pipeline.index_run_history, writer, spec.run_id)
            publish(writer, spec, tally, stages, expected=total)
    finally:
        reader.close()
        writer.close()
    return tally
