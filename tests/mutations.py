"""Break each guarantee on purpose and watch its test fail (docs/GUARANTEES.md, "Mutations").

    .venv/bin/python tests/mutations.py            # every mutation (about 10 minutes on 2 cores)
    .venv/bin/python tests/mutations.py signing    # those whose name contains 'signing'

Each mutation replaces one piece of text in one file, runs the tests that stand behind the
guarantee, expects them to FAIL, and restores the file (also on Ctrl-C).  Not collected by pytest.
Uses CHURNDB_TEST_DATABASE_URL when set, like the suite.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IT = "tests/integration/"

# (name, file, text, replacement, tests)
MUTATIONS = [
    ("quarantine: a non-number is rejected", "churndb/ingest/checks.py",
     'self.reject_value(bad, name, "is not a number")', "pass",
     [IT + "test_ingest_bad_input.py::test_bad_rows_are_quarantined_with_reasons_and_good_rows_load"]),
    ("ingest: duplicates are found across chunks", "churndb/ingest/snapshot.py",
     '    conn.execute(SQL.query("mark_rejected_duplicates"))\n',
     '    return\n    conn.execute(SQL.query("mark_rejected_duplicates"))\n',
     [IT + "test_ingest_streaming.py::test_duplicates_across_chunks_are_quarantined_exactly_as_within_one"]),
    ("ingest: memory flat in the file's size", "churndb/ingest/snapshot.py",
     "            for records in stream.chunks(chunk_rows):", "            for records in stream.chunks(10**9):",
     [IT + "test_ingest_streaming.py::test_peak_memory_does_not_grow_with_the_file"]),
    ("ingest: the same file twice changes nothing", "churndb/ingest/batch.py",
     '"as_of_date": as_of}).fetchone()', '"as_of_date": as_of}).fetchone() and None',
     [IT + "test_ingest.py::test_same_file_same_date_twice_changes_nothing"]),
    ("sql: placeholders take driver-quoted identifiers only", "churndb/store/sqlfiles.py",
     "if not isinstance(value, sql.Composable):", "if False:",
     ["tests/unit/test_sqlfiles.py::test_compose_accepts_only_driver_quoted_identifiers"]),
    ("sql: a module runs only its own statements", "jobs/retrain.py",
     "from churndb.training.spec import TrainingSpec\n",
     "from churndb.training.spec import TrainingSpec\nx = SQL.query('champion_version')\n",
     ["tests/unit/test_sqlfiles.py::test_each_module_runs_only_statements_of_its_own_file"]),
    ("layers: siblings never import each other", "churndb/training/fit.py",
     "from .spec import LABEL, TrainingSet, TrainingSpec\n",
     "from .spec import LABEL, TrainingSet, TrainingSpec\nfrom ..scoring import pipeline  # noqa\n",
     ["tests/unit/test_layers.py::test_import_contracts_hold"]),
    ("publish: an empty run is refused", "churndb/scoring/publish.py", "if expected == 0:", "if False:",
     [IT + "test_trust.py::test_a_run_that_scores_nobody_fails_and_leaves_the_crm_table_alone"]),
    ("publish: a target shift raises an alert", "churndb/scoring/publish.py",
     "if abs(shift) > run.target_shift_max:", "if False:",
     [IT + "test_trust.py::test_a_sudden_shift_in_the_target_count_is_published_with_an_alert"]),
    ("score: [score] chunk_rows at least 1", "churndb/scoring/coordinator.py",
     'getattr(cls, name), minimum=1 if kind is int else None)', 'getattr(cls, name))',
     [IT + "test_trust.py::test_zero_rows_per_chunk_is_a_config_error_not_an_empty_publish"]),
    ("control group: stable hash of (campaign, customer)", "churndb/scoring/pipeline.py",
     "return stable_position(customer_ids, campaign_id, CONTROL_HASH_KEY) < share",
     "return np.random.default_rng().random(len(customer_ids)) < share",
     [IT + "test_scoring.py::test_control_group_is_about_ten_percent_and_stable"]),
    ("secrets: connection strings redacted from parsed parameters", "churndb/store/db.py",
     '    params = _parameters(url)\n    if params is None:\n        return "<a connection',
     '    return url\n    params = _parameters(url)\n    if params is None:\n        return "<a connection',
     [IT + "test_trust.py::test_redaction_hides_every_spelling_of_a_password",
      IT + "test_trust.py::test_cannot_connect_line_carries_no_password"]),
    ("secrets: signing keys of at least 32 bytes", "churndb/store/signing.py",
     "MIN_KEY_BYTES = 32", "MIN_KEY_BYTES = 0",
     [IT + "test_trust.py::test_short_or_empty_signing_keys_are_refused"]),
    ("models: a tampered artifact is refused before unpickling", "churndb/store/signing.py",
     "if not hmac.compare_digest(expected, signature):", "if False:",
     [IT + "test_model.py::test_tampered_swapped_unsigned_and_wrong_key_artifacts_are_refused"]),
    ("dates: strict YYYY-MM-DD", "churndb/base/dates.py", r'ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")',
     'ISO_DATE = re.compile(r".*")',
     [IT + "test_trust.py::test_a_date_that_is_not_yyyy_mm_dd_is_refused_and_loads_nothing"]),
    ("dates: nothing dated in the future", "churndb/base/dates.py",
     "if value > today() + dt.timedelta(days=int(text)):", "if False:",
     [IT + "test_trust.py::test_data_dated_in_the_future_is_refused_and_loads_nothing"]),
    ("files: exports and reports owner-only", "churndb/store/copy.py",
     "0o600)\n    os.fchmod(fd, 0o600)", "0o644)\n    os.fchmod(fd, 0o644)",
     [IT + "test_trust.py::test_exports_and_report_files_are_readable_by_their_owner_only"]),
    ("config: values of the wrong type are refused", "churndb/base/config.py", "    if not ok:\n",
     "    if False:\n", [IT + "test_trust.py::test_a_config_value_of_the_wrong_type_is_one_line_naming_it"]),
    ("feed: a bad file is set aside, the rest load", "jobs/inbox.py", "        except ChurnDBError as exc:",
     "        except ZeroDivisionError as exc:",
     [IT + "test_trust.py::test_the_feed_job_loads_good_files_and_sets_bad_ones_aside"]),
    ("privacy: identifier columns kept out of the model", "churndb/model/features.py",
     "    return distinct > IDENTIFIER_MIN_DISTINCT", "    return False and distinct > IDENTIFIER_MIN_DISTINCT",
     [IT + "test_trust.py::test_identifier_columns_and_long_category_lists_stay_out_of_the_model",
      IT + "test_sources.py::test_a_telco_shaped_file_goes_end_to_end_under_its_own_names"]),
    ("runs: the row is visible only once its lock is held", "churndb/store/run_state.py",
     "    with conn.transaction():\n        run_id, started_at", "    if True:\n        run_id, started_at",
     [IT + "test_trust.py::test_a_starting_run_is_never_taken_for_an_abandoned_one"]),
    ("runs: a failed run is never flipped to succeeded", "churndb/store/run_state.py", "    if done is None:",
     "    if False:", [IT + "test_trust.py::test_a_run_marked_failed_is_never_flipped_to_succeeded"]),
    ("runs: lock checks stay in their database", "sql/queries/store/run_state.sql",
     "                    AND l.granted\n                    AND l.database", "                    AND l.granted\n                    OR l.database",
     [IT + "test_trust.py::test_a_lock_in_another_database_does_not_keep_a_dead_run_alive"]),
    ("record: guards of migration 0004", "migrations/versions/0004_record_guards.py",
     "    op.execute(GUARDS)\n    op.execute(PARTITION_FUNCTION)\n", "    pass\n",
     [IT + "test_roles.py::test_the_scorer_cannot_rewrite_the_record",
      IT + "test_schema_guarantees.py::test_a_monthly_history_partition_refuses_truncate_itself"]),
    ("roles: BI does not read CRM free text", "migrations/versions/0004_record_guards.py",
     '    op.execute("REVOKE SELECT ON churndb.v_crm_priority_targets FROM churn_bi")\n', "",
     [IT + "test_roles.py::test_bi_does_not_read_the_crm_free_text"]),
    ("dask: no password in a task", "churndb/scoring/cluster.py",
     "    target = db.without_password(url)\n", "    target = url\n",
     [IT + "test_distributed.py::test_tasks_carry_no_password_and_workers_use_their_own"]),
    ("dask: a remote scheduler only over TLS", "churndb/scoring/cluster.py",
     "    if _loopback(host):\n        return None", "    if True:\n        return None",
     [IT + "test_distributed.py::test_a_remote_scheduler_over_plain_tcp_is_refused_before_connecting"]),
    ("jobs: the lock is held on two connections", "jobs/runner.py",
     "        if not self._take(1):", "        if False:",
     [IT + "test_jobs.py::test_a_dropped_lock_connection_does_not_let_a_second_instance_start"]),
    ("doctor: a schema behind head fails", "churndb/doctor.py", "    if current == head:", "    if True:",
     [IT + "test_doctor.py::test_a_database_one_migration_behind_fails_the_schema_check"]),
    ("export: the manifest is signed", "churndb/store/offline.py",
     "    if not hmac.compare_digest(_manifest_signature(key, text), stated):", "    if False:",
     [IT + "test_model_export.py::test_a_changed_byte_anywhere_in_the_export_is_refused"]),
    ("notifications: only customers newly above the threshold", "sql/queries/scoring/publish.sql",
     "WHERE h.run_id = %(previous_run)s AND h.customer_id", "WHERE h.run_id = -1 AND h.customer_id",
     [IT + "test_notifications.py::test_the_outbox_holds_exactly_the_customers_newly_above_the_threshold"]),
    ("notifications: none for a shadow run", "churndb/scoring/publish.py",
     "    if not run.shadow:  # LISTENers", "    if True:  # LISTENers",
     [IT + "test_notifications.py::test_one_notification_per_published_run_and_none_for_shadow_or_failed_runs"]),
    ("ingest: another delimiter is refused in one line", "churndb/ingest/csvfile.py",
     "            if sep != delimiter and sep in header[0]:", "            if False:",
     [IT + "test_ingest_bad_input.py::test_unusable_files_stop_with_one_line"]),
    ("ingest: unsafe table names are refused", "churndb/ingest/table.py",
     'if not IDENTIFIER.match(text or ""):', "if False:",
     [IT + "test_ingest_table.py::test_unsafe_table_names_are_refused"]),
    ("ingest: a corrected file replaces values", "sql/queries/ingest/snapshot.sql",
     "gender = excluded.gender, age = excluded.age,", "gender = excluded.gender, age = customer_snapshots.age,",
     [IT + "test_ingest.py::test_a_corrected_file_for_the_same_date_replaces_values_without_duplicates"]),
    ("views: only succeeded runs are visible", "migrations/versions/0008_sources.py",
     "WHERE r.status = 'succeeded' AND NOT r.is_shadow", "WHERE NOT r.is_shadow",
     [IT + "test_views.py::test_only_succeeded_runs_are_visible"]),
    ("publish: a re-score never touches the CRM's columns", "sql/queries/scoring/publish.sql",
     "ON CONFLICT (customer_id) DO UPDATE SET\n    customer_key", "ON CONFLICT (customer_id) DO UPDATE SET\n    crm_notes = NULL, customer_key",
     [IT + "test_scoring.py::test_rescore_keeps_crm_columns_and_marks_dropped_customers"]),
    ("models: metrics are measured on the hold-out", "churndb/training/fit.py",
     "    metrics = evaluate(model, test, spec.threshold)", "    metrics = evaluate(model, train, spec.threshold)",
     [IT + "test_model.py::test_metrics_are_measured_on_rows_the_model_never_saw"]),
    ("models: champion and challenger compared on rows neither saw", "churndb/training/promotion.py",
     "    rows = test[~trained_on(test, champion_training)]", "    rows = test",
     [IT + "test_model.py::test_the_comparison_leaves_out_rows_the_champion_was_trained_on"]),
    ("dask: a Dask run publishes what a local run does", "churndb/scoring/cluster.py",
     '    frame.insert(1, "partition_no", task.partition_no)\n',
     '    frame.insert(1, "partition_no", task.partition_no)\n    frame = frame.assign(churn_probability=frame["churn_probability"] + 1e-9)\n',
     [IT + "test_distributed.py::test_dask_run_publishes_exactly_what_a_local_run_does"]),
    ("history: partitions are created months ahead", "churndb/ops/history.py",
     "        for m in range(months_ahead + 1):", "        for m in range(1):",
     [IT + "test_history.py::test_partitions_ahead_and_retention_archive_only_old_months"]),
    ("citus: every table is placed in the plan", "churndb/store/citus.py",
     '"history_archive", "model_backtests",', '"history_archive",',
     ["tests/migration/test_distribution.py"]),
    ("jobs: a failing job is recorded failed", "jobs/runner.py",
     '{"job_run_id": job_run_id, "status": "failed",', '{"job_run_id": job_run_id, "status": "succeeded",',
     [IT + "test_jobs.py::test_a_failing_job_is_recorded_and_the_scheduler_goes_on"]),
    ("jobs: never twice at once", "sql/queries/jobs/runner.sql",
     "SELECT pg_try_advisory_lock(%(space)s, hashtext(%(job)s));", "SELECT true;",
     [IT + "test_jobs.py::test_two_concurrent_score_jobs_one_runs_one_skips"]),
    ("sources: a run refreshes only its own source's targets", "sql/queries/scoring/publish.sql",
     "WHERE t.is_current AND t.source = %(source)s AND NOT EXISTS", "WHERE t.is_current AND NOT EXISTS",
     [IT + "test_sources.py::test_sources_live_side_by_side_and_a_run_refreshes_only_its_own_targets"]),
    ("sources: no value column, no made-up money", "sql/queries/scoring/publish.sql",
     "       CASE WHEN %(has_value)s THEN\n           coalesce(sum(estimated_revenue_at_risk * %(success_rate)s)",
     "       CASE WHEN true THEN\n           coalesce(sum(estimated_revenue_at_risk * %(success_rate)s)",
     [IT + "test_sources.py::test_a_source_without_a_value_column_has_no_made_up_money"]),
    ("sources: a changed column type is refused", "churndb/ingest/operator_layout.py",
     "                if not blank and found not in COMPATIBLE[c.type]:", "                if False:",
     [IT + "test_sources.py::test_a_changed_column_type_is_refused_and_nothing_is_loaded"]),
    ("sources: a row-ids source is never scored", "churndb/scoring/coordinator.py",
     "    if layout.row_ids:\n", "    if False:\n",
     [IT + "test_sources.py::test_a_keyless_semicolon_extract_trains_but_is_never_scored"]),
    ("sources: a new column needs an accepted layout change", "churndb/ingest/operator_layout.py",
     "    if (new or missing) and not accept:", "    if False:",
     [IT + "test_sources.py::test_a_new_column_is_refused_unless_the_change_is_accepted_and_recorded"]),
    ("sources: score_customer reads the file's blanks and spellings as ingest does", "churndb/api.py",
     "                frame[c.column] = words.map(lambda w: \"t\" if w in LABEL_TRUE else (\"f\" if w in LABEL_FALSE else None))",
     "                pass",
     [IT + "test_sources.py::test_score_customer_returns_what_the_published_run_stored"]),
    ("reasons: members combined through the meta-learner", "churndb/model/reasons.py",
     "            part += weights[name] * c", "            part += c",
     ["tests/unit/test_reasons.py::test_contributions_add_up_to_the_published_log_odds_of_every_customer"]),
    ("reasons: the forest's split mapped onto its log-odds", "churndb/model/reasons.py",
     "shares * slope[:, None])", "shares)",
     ["tests/unit/test_reasons.py::test_contributions_add_up_to_the_published_log_odds_of_every_customer"]),
    ("faults: a run cut off mid-way is marked failed by the next run", "churndb/store/run_state.py",
     '    abandoned = [r[0] for r in conn.execute(SQL.query("fail_abandoned_runs")).fetchall()]',
     "    abandoned = []",
     [IT + "test_reliability.py::test_connection_cut_mid_run_fails_cleanly_and_the_next_run_succeeds"]),
    ("faults: a held lock is one line naming it, not a hang", "churndb/store/db.py",
     "    if isinstance(exc, psycopg.errors.LockNotAvailable):", "    if isinstance(exc, ZeroDivisionError):",
     [IT + "test_reliability.py::test_a_lock_held_elsewhere_is_a_clear_error_not_a_hang"]),
    ("faults: a statement timeout is one line naming the setting", "churndb/store/db.py",
     "    if isinstance(exc, psycopg.errors.QueryCanceled):", "    if isinstance(exc, ZeroDivisionError):",
     [IT + "test_faults.py::test_statement_timeout_is_one_clear_line"]),
    ("hostile: ragged records are quarantined, not a crash", "churndb/ingest/checks.py",
     "            elif len(rec.fields) != width:", "            elif False:",
     [IT + "test_hostile_csv.py::test_mutated_rows_reconcile"]),
    ("hostile: bytes that are not UTF-8 are one line", "churndb/ingest/csvfile.py",
     "                    decoder.decode(block)\n                except UnicodeDecodeError as exc:",
     "                    decoder.decode(block)\n                except ZeroDivisionError as exc:",
     [IT + "test_hostile_csv.py::test_random_bytes_never_crash"]),
    ("concurrency: a run reads one snapshot of the customer base", "churndb/store/db.py",
     "    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ",
     "    conn.isolation_level = psycopg.IsolationLevel.READ_COMMITTED",
     [IT + "test_reliability.py::test_a_run_reads_one_snapshot_even_when_a_newer_one_commits_between_its_chunks"]),
    # The next two need the embedded test server (run without CHURNDB_TEST_DATABASE_URL): against an
    # external server their tests are skipped, and a skipped test proves nothing.
    ("embedded: a full disk is one line and loads nothing", "churndb/store/db.py",
     "    if isinstance(exc, (psycopg.errors.DiskFull, psycopg.errors.OutOfMemory)):",
     "    if isinstance(exc, ZeroDivisionError):",
     [IT + "test_faults.py::test_disk_full_is_one_line_and_loads_nothing"]),
    ("embedded: a server restart mid-run leaves no running run behind", "churndb/store/run_state.py",
     '    abandoned = [r[0] for r in conn.execute(SQL.query("fail_abandoned_runs")).fetchall()]',
     "    abandoned = []",
     [IT + "test_reliability.py::test_server_restart_mid_run_fails_cleanly_and_the_next_run_succeeds"]),
    ("kill -9: a model version appears only whole", "churndb/training/candidate.py",
     "    data = load_training_set(url, spec)\n",
     "    data = load_training_set(url, spec)\n    with db.connect(url, autocommit=True) as c:  # a half-registered row\n"
     "        c.execute(\"INSERT INTO churndb.model_versions (spec, feature_spec, training, metrics, library_versions, \"\n"
     "                  \"artifact, artifact_sha256, artifact_signature) VALUES ('{}', '{}', '{}', '{}', '{}', '', '', '')\")\n",
     [IT + "test_faults.py::test_kill_train_leaves_the_registry_whole"]),
    ("kill -9: a killed job is recorded failed by the next one", "jobs/runner.py",
     '        conn.execute(SQL.query("fail_abandoned_jobs"))', "        pass",
     [IT + "test_faults.py::test_kill_retrain_leaves_one_champion_and_consistent_targets"]),
    ("uplift: used only when it beats risk ranking beyond chance", "churndb/model/uplift.py",
     "bool(q_u > q_r and low > 0)", "True",
     ["tests/unit/test_uplift.py::test_with_no_effect_at_all_the_uplift_model_is_not_used"]),
    ("uplift: train-uplift puts a model in use only when it beats risk ranking", "churndb/training/campaigns.py",
     "            if verdict.used_for_targeting:", "            if True:",
     [IT + "test_uplift.py::test_with_no_treatment_effect_the_uplift_model_is_not_used"]),
    ("uplift: targeting ranks the budget by expected uplift x value - cost", "churndb/scoring/pipeline.py",
     'scored["expected_uplift"] * value - scored["estimated_intervention_cost"], 2)',
     'scored["expected_uplift"] * 0 - scored["estimated_intervention_cost"], 2)',
     [IT + "test_uplift.py::test_uplift_targeting_ranks_the_budget_by_what_a_contact_buys"]),
    ("offers: arms are for contacted customers only, never control", "churndb/scoring/pipeline.py",
     'arms = offer_arms(scored["customer_id"].to_numpy()[contacted], scored["risk_category"].to_numpy()[contacted],',
     'contacted = targeted\n    arms = offer_arms(scored["customer_id"].to_numpy()[contacted], '
     'scored["risk_category"].to_numpy()[contacted],',
     [IT + "test_uplift.py::test_offer_arms_are_stable_within_a_campaign_and_never_given_to_control"]),
    ("offers: an arm is a stable hash of (campaign, customer)", "churndb/scoring/pipeline.py",
     "position = stable_position(customer_ids, campaign_id, OFFER_HASH_KEY)",
     "position = np.random.default_rng().random(len(customer_ids))",
     [IT + "test_uplift.py::test_offer_arms_are_stable_within_a_campaign_and_never_given_to_control"]),
    ("offers: a better arm only when the interval excludes the other", "migrations/versions/0009_uplift_offers.py",
     "y.churn_rate - x.churn_rate - 1.96 *", "y.churn_rate - x.churn_rate - 0 *",
     [IT + "test_uplift.py::test_offer_experiments_call_a_winner_only_beyond_doubt"]),
    ("offers: not enough data below 30 customers", "migrations/versions/0009_uplift_offers.py",
     "a.contacted >= 30 AND coalesce(c.control, 0) >= 30 AS enough", "true AS enough",
     [IT + "test_uplift.py::test_offer_experiments_call_a_winner_only_beyond_doubt"]),
    ("concurrency: two runs publishing at once do not fail each other", "churndb/scoring/local.py",
     '    writer = db.connect(url, application="churndb-score-write")\n',
     '    writer = db.connect(url, application="churndb-score-write")\n'
     '    writer.isolation_level = __import__("psycopg").IsolationLevel.REPEATABLE_READ\n',
     [IT + "test_reliability.py::test_two_scores_at_once_both_publish_consistently"]),
]


def run(mutation) -> bool:
    name, relative, text, replacement, tests = mutation
    path = (ROOT / relative).resolve()
    original = path.read_text(encoding="utf-8")
    if original.count(text) != 1:
        print(f"  ?? {name}: the text to mutate is not found exactly once in {relative}")
        return False
    try:
        path.write_text(original.replace(text, replacement), encoding="utf-8")
        result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
                                cwd=ROOT, capture_output=True, text=True)
    finally:
        path.write_text(original, encoding="utf-8")
    caught = result.returncode != 0
    print(f"  {'caught' if caught else 'MISSED'}: {name}")
    return caught


def main(argv: list[str]) -> int:
    chosen = [m for m in MUTATIONS if not argv or any(a in m[0] for a in argv)]
    print(f"{len(chosen)} mutations; each must make its tests fail")
    missed = [m[0] for m in chosen if not run(m)]
    print(f"{len(chosen) - len(missed)} caught, {len(missed)} missed" + (f": {missed}" if missed else ""))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
