"""How churndb's tables would be laid out on a Citus cluster (a plan, checked against the schema).

Citus is not installed here; what is checked (tests/migration/test_distribution.py) is the schema
side of the plan: every table is classified, every distributed table keeps its distribution column
in each primary key / unique constraint, and foreign keys only point from distributed tables at
reference tables (or between reference tables), which is what Citus accepts.  ``citus_statements()``
is the SQL a DBA runs on the coordinator after ``churndb init``; docs/CITUS.md shows it.
"""

from __future__ import annotations

# Large, per-customer tables: sharded by customer_id and co-located, so a customer's snapshots,
# outcomes, scores and target live on the same node and joins on customer_id stay on one shard.
DISTRIBUTED = {
    "customer_snapshots": "customer_id",
    "churn_outcomes": "customer_id",
    "score_history": "customer_id",
    "score_staging": "customer_id",
    "retention_targets": "customer_id",
    "intervention_outcomes": "customer_id",
    "notification_outbox": "customer_id",
    # The CRM's updates a run's build may not have seen: beside the targets they were made to.
    "crm_target_changes": "customer_id",
}
# Quarantined input rows: their customer_id may be missing or malformed, so they shard by batch.
DISTRIBUTED_APART = {"rejected_rows": "batch_id"}
# Small tables every node reads (runs, models, policy, summaries, monitoring): replicated.
REFERENCE = (
    "ingest_batches", "model_versions", "model_deployments", "segment_policy", "segment_policy_bands",
    "segment_policy_arms",
    "scoring_runs", "run_partitions", "run_segment_summary", "run_roi_summary", "monitoring_metrics", "alerts",
    "job_runs", "history_archive", "model_backtests", "sources", "source_layout_changes",
    # The operator's key -> customer_id lookup is unique both ways, which a sharded table cannot be;
    # replicated, it is one narrow row per customer of a source (a key look-up stays on every node).
    "source_keys",
    # Always empty: what a source's first run builds its targets from.
    "retention_targets_none",
)
COLOCATION_ANCHOR = "customer_snapshots"


def citus_statements() -> list[str]:
    """Reference tables first (distributed tables' foreign keys point at them), then the sharded ones."""
    out = [f"SELECT create_reference_table('churndb.{t}');" for t in REFERENCE]
    out.append(f"SELECT create_distributed_table('churndb.{COLOCATION_ANCHOR}', "
               f"'{DISTRIBUTED[COLOCATION_ANCHOR]}');")
    for table, column in DISTRIBUTED.items():
        if table != COLOCATION_ANCHOR:
            out.append(f"SELECT create_distributed_table('churndb.{table}', '{column}', "
                       f"colocate_with => 'churndb.{COLOCATION_ANCHOR}');")
    for table, column in DISTRIBUTED_APART.items():
        out.append(f"SELECT create_distributed_table('churndb.{table}', '{column}', colocate_with => 'none');")
    return out
