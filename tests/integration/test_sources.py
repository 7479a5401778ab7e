"""Any operator's data end to end (issue 13): a registered source is ingested, trained, scored,
published, exported, reported and monitored under the names its file uses."""

import csv
import json

import numpy as np
import pandas as pd
import pytest

from churndb.model.sample import generate

HORIZON_MONTHS = 12  # the seed policy's value horizon (revenue at risk = p x value x horizon)


def telco_export(n=1_500, seed=21) -> pd.DataFrame:
    """Shaped like the public telco export: text keys, Yes/No label, blanks in TotalCharges, an e-mail."""
    df = generate(n, seed=seed)
    rng = np.random.default_rng(seed)
    total = df["total_charges"].round(2).astype(str)
    total[df["tenure_months"] <= 1] = " "  # blanks, as the public file has for new customers
    return pd.DataFrame({
        "customerID": [f"{rng.integers(1000, 9999)}-{''.join(rng.choice(list('ABCDEFGHJKLMNPQRSTUVWXYZ'), 5))}{i}"
                       for i in range(n)],
        "Contract": df["contract_type"], "tenure": df["tenure_months"],
        "Total day minutes": df["avg_voice_mins_month"].round(1),
        "Complaints": df["num_complaints_3m"], "PaperlessBilling": np.where(df["auto_pay_enrolled"] == 1, "Yes", "No"),
        "MonthlyCharges": df["monthly_charges"].round(2), "TotalCharges": total,
        "Email": [f"customer{i}@example.com" for i in range(n)],
        "Churn": np.where(df["is_churn"] == 1, "Yes", "No"),
    })


@pytest.fixture
def telco_file(tmp_path):
    frame = telco_export()
    path = tmp_path / "telco.csv"
    frame.to_csv(path, index=False)
    return frame, path


def _ok(res):
    assert res.code == 0, res.err
    return res.json


def _load_train_promote(cli, path, source="telco", *extra):
    out = _ok(cli("ingest", path, "--source", source, "--id-column", "customerID", "--label-column", "Churn",
                  *extra, "--as-of", "2026-10-01", "--json"))
    model = _ok(cli("train", "--source", source, "--json"))
    _ok(cli("models", "promote", str(model["model_version"]), "--json"))
    return out, model


def test_a_telco_shaped_file_goes_end_to_end_under_its_own_names(cli, db_url, conn, telco_file, tmp_path):
    frame, path = telco_file
    loaded, model = _load_train_promote(cli, path, "telco", "--value-column", "MonthlyCharges")
    assert (loaded["rows_in"], loaded["rows_loaded"], loaded["rows_rejected"]) == (1500, 1500, 0)
    assert model["metrics"]["auc"] > 0.7 and model["training"]["rows_test"] >= 250
    spec = conn.execute("SELECT feature_spec::text FROM churndb.model_versions WHERE model_version = %s",
                        (model["model_version"],)).fetchone()[0]
    assert "example.com" not in spec and '"email"' not in spec  # the e-mail column is an identifier, not a feature

    run = _ok(cli("score", "--source", "telco", "--json"))
    assert run["customers_scored"] == 1500 and run["source"] == "telco"
    targets = conn.execute("SELECT customer_key, source, top_reasons FROM churndb.retention_targets "
                           "WHERE is_current").fetchall()
    assert targets and {t[1] for t in targets} == {"telco"}
    assert {t[0] for t in targets} <= set(frame["customerID"])  # the keys as the operator wrote them
    named = {r["feature"] for t in targets if t[2] for r in t[2]}
    assert named and named <= set(frame.columns)  # reasons under the file's headers

    # Revenue at risk per category = sum of p x MonthlyCharges x horizon over the run's customers,
    # with the charges taken from the operator's file.
    history = pd.DataFrame(conn.execute("SELECT customer_key, churn_probability, risk_category FROM churndb.score_history "
                                        "WHERE run_id = %s", (run["run_id"],)).fetchall(),
                           columns=["customerID", "p", "category"]).merge(frame, on="customerID")
    history["at_risk"] = (history["p"] * history["MonthlyCharges"] * HORIZON_MONTHS).round(2)
    expected = history.groupby("category")["at_risk"].sum()
    view = dict(conn.execute("SELECT risk_category, revenue_at_risk FROM churndb.v_risk_segments "
                             "WHERE source = 'telco'").fetchall())
    for category, value in expected.items():
        assert float(view[category]) == pytest.approx(value, abs=0.01)
    treated = conn.execute("SELECT sum(estimated_revenue_at_risk) FROM churndb.retention_targets "
                           "WHERE is_current AND treatment_group = 'treatment'").fetchone()[0]
    saved, note = conn.execute("SELECT expected_revenue_saved, value_note FROM churndb.v_roi_projection "
                               "WHERE source = 'telco' AND risk_category = 'All'").fetchone()
    assert note is None and saved == pytest.approx(0.40 * float(treated), rel=1e-9)

    out = tmp_path / "critical.csv"
    exported = _ok(cli("export", "--source", "telco", "--segment", "all", "--out", out, "--json"))
    assert exported["rows"] == 1500
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0])[:3] == ["customerID", "Contract", "tenure"] and rows[0]["customerID"] in set(frame["customerID"])

    report = _ok(cli("report", "--source", "telco", "--out", tmp_path / "report", "--json"))
    text = (tmp_path / "report" / "deployment_metrics.txt").read_text()
    assert "source telco" in text and report["metrics"]["customers_scored"] == 1500
    assert "no value column configured" not in text
    monitored = _ok(cli("monitor", "--source", "telco", "--json"))
    assert isinstance(monitored["alerts"], list) and monitored["metrics"]


def test_names_work_as_written_or_as_stored_in_every_command(cli, db_url, conn, telco_file):
    _, path = telco_file
    _ok(cli("ingest", path, "--source", "mixed", "--id-column", "customerid", "--label-column", "churn",
            "--value-column", "monthlycharges", "--as-of", "2026-10-01", "--json"))
    shown = _ok(cli("sources", "show", "mixed", "--json"))
    assert (shown["key_column"], shown["label_column"], shown["value_column"]) == ("customerID", "Churn",
                                                                                 "MonthlyCharges")
    columns = {c["header"]: c["column"] for c in shown["columns"]}
    assert columns["Total day minutes"] == "total_day_minutes"
    res = cli("ingest", path, "--source", "mixed", "--id-column", "Email", "--as-of", "2026-10-02")
    assert res.code == 1 and "mixed has --id-column customerID" in res.err and len(res.err.strip().splitlines()) == 1


def test_a_source_without_a_value_column_has_no_made_up_money(cli, db_url, conn, telco_file, tmp_path):
    _, path = telco_file
    _load_train_promote(cli, path, "novalue")
    _ok(cli("score", "--source", "novalue", "--json"))
    money = conn.execute("SELECT count(*), count(estimated_revenue_at_risk) FROM churndb.retention_targets "
                         "WHERE source = 'novalue'").fetchone()
    assert money[0] > 0 and money[1] == 0
    segments = conn.execute("SELECT revenue_at_risk, value_note FROM churndb.v_risk_segments "
                            "WHERE source = 'novalue'").fetchall()
    assert segments and all(r[0] is None and r[1] == "no value column configured" for r in segments)
    roi = conn.execute("SELECT expected_revenue_saved, roi, value_note FROM churndb.v_roi_projection "
                       "WHERE source = 'novalue' AND risk_category = 'All'").fetchone()
    assert roi[0] is None and roi[1] is None and roi[2] == "no value column configured"
    _ok(cli("report", "--source", "novalue", "--out", tmp_path / "r", "--json"))
    text = (tmp_path / "r" / "deployment_metrics.txt").read_text()
    assert "no value column configured" in text and "$0.00" not in text.split("RETENTION PROGRAM")[0]


def test_score_customer_returns_what_the_published_run_stored(cli, db_url, conn, telco_file):
    from churndb import ChurnScorer

    frame, path = telco_file
    _load_train_promote(cli, path, "telco", "--value-column", "MonthlyCharges")
    run = _ok(cli("score", "--source", "telco", "--json"))
    stored = dict(conn.execute("SELECT customer_key, churn_probability FROM churndb.score_history WHERE run_id = %s",
                               (run["run_id"],)).fetchall())
    scorer = ChurnScorer.from_database(db_url, source="telco")
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))[:200]  # as the file has them: all text, blanks and Yes/No
    for row in rows:
        out = scorer.score_customer(row)
        assert out["customer_id"] == row["customerID"]
        assert out["risk_probability"] == pytest.approx(stored[row["customerID"]], abs=1e-12)
    assert {r["feature"] for r in out["top_reasons"]} <= set(frame.columns)
    with pytest.raises(Exception, match="MonthlyCharges"):
        scorer.score_customer({k: v for k, v in rows[0].items() if k != "MonthlyCharges"})


def test_a_changed_column_type_is_refused_and_nothing_is_loaded(cli, db_url, conn, telco_file, tmp_path):
    frame, path = telco_file
    _ok(cli("ingest", path, "--source", "telco", "--id-column", "customerID", "--label-column", "Churn",
            "--as-of", "2026-10-01", "--json"))
    before = conn.execute("SELECT (SELECT count(*) FROM churndb.ingest_batches), "
                          "(SELECT count(*) FROM churndb_source.telco)").fetchone()
    changed = frame.assign(tenure=[f"{t} months" for t in frame["tenure"]])
    second = tmp_path / "second.csv"
    changed.to_csv(second, index=False)
    res = cli("ingest", second, "--source", "telco", "--as-of", "2026-11-01")
    assert res.code == 1 and "'tenure' was bigint and is text" in res.err and len(res.err.strip().splitlines()) == 1
    after = conn.execute("SELECT (SELECT count(*) FROM churndb.ingest_batches), "
                         "(SELECT count(*) FROM churndb_source.telco)").fetchone()
    assert after == before


def test_a_new_column_is_refused_unless_the_change_is_accepted_and_recorded(cli, db_url, conn, telco_file, tmp_path):
    frame, path = telco_file
    _ok(cli("ingest", path, "--source", "telco", "--id-column", "customerID", "--label-column", "Churn",
            "--as-of", "2026-10-01", "--json"))
    second = tmp_path / "second.csv"
    frame.assign(**{"Data GB": 1.5}).drop(columns=["Complaints"]).to_csv(second, index=False)
    res = cli("ingest", second, "--source", "telco", "--as-of", "2026-11-01")
    assert res.code == 1 and "new column(s) Data GB" in res.err and "missing column(s) Complaints" in res.err
    assert conn.execute("SELECT count(*) FROM churndb_source.telco WHERE as_of_date = '2026-11-01'").fetchone()[0] == 0
    _ok(cli("ingest", second, "--source", "telco", "--as-of", "2026-11-01", "--accept-layout-change", "--json"))
    version, change = conn.execute("SELECT s.layout_version, c.current::text FROM churndb.sources s "
                                   "JOIN churndb.source_layout_changes c USING (source) WHERE source = 'telco'").fetchone()
    assert version == 2 and "Data GB" in change
    assert conn.execute("SELECT count(data_gb), count(complaints) FROM churndb_source.telco "
                        "WHERE as_of_date = '2026-11-01'").fetchone() == (1500, 0)


def test_a_keyless_semicolon_extract_trains_but_is_never_scored(cli, db_url, conn, tmp_path):
    df = generate(2_000, seed=5)
    export = pd.DataFrame({
        "Contrat": df["contract_type"], "Ancienneté (mois)": df["tenure_months"],
        "Montant mensuel": df["monthly_charges"].round(2), "Réclamations": df["num_complaints_3m"],
        "Résilié": np.where(df["is_churn"] == 1, "VRAI", "FAUX"),
    })
    path = tmp_path / "extrait.csv"
    path.write_text("\ufeff" + export.to_csv(index=False, sep=";", decimal=",").replace("\n", "\r\n"), encoding="utf-8")
    loaded = _ok(cli("ingest", path, "--source", "extrait", "--row-ids", "--decimal", ",", "--label-column", "Résilié",
                     "--as-of", "2026-10-01", "--json"))
    assert (loaded["rows_loaded"], loaded["labels_loaded"]) == (2000, 2000)
    total = conn.execute("SELECT sum(montant_mensuel) FROM churndb_source.extrait").fetchone()[0]
    assert total == pytest.approx(float(export["Montant mensuel"].sum()), rel=1e-9)  # 57,41 read as 57.41
    trained = _ok(cli("train", "--source", "extrait", "--json"))
    assert trained["training"]["rows_test"] >= 300 and trained["metrics"]["auc"] > 0.65
    _ok(cli("models", "promote", str(trained["model_version"]), "--json"))
    res = cli("score", "--source", "extrait")
    assert res.code == 1 and "row numbers" in res.err and len(res.err.strip().splitlines()) == 1
    assert conn.execute("SELECT count(*) FROM churndb.scoring_runs").fetchone()[0] == 0


def test_sources_live_side_by_side_and_a_run_refreshes_only_its_own_targets(cli, trained_db_url, telco_file):
    import psycopg

    _, path = telco_file
    _ok(cli("score", "--json"))  # the telecom layout's champion
    with psycopg.connect(trained_db_url) as conn:
        telecom = conn.execute("SELECT count(*) FROM churndb.retention_targets WHERE is_current").fetchone()[0]
    _load_train_promote(cli, path, "telco", "--value-column", "MonthlyCharges")
    res = cli("score", "--source", "telco", "--model", "1")
    assert res.code == 1 and "trained on source telecom, not telco" in res.err
    _ok(cli("score", "--source", "telco", "--json"))
    with psycopg.connect(trained_db_url) as conn:
        current = dict(conn.execute("SELECT source, count(*) FROM churndb.retention_targets WHERE is_current "
                                    "GROUP BY source").fetchall())
        champions = dict(conn.execute("SELECT source, model_version FROM churndb.model_versions "
                                      "WHERE status = 'champion'").fetchall())
        latest = dict(conn.execute("SELECT source, run_id FROM churndb.v_published_runs WHERE recency = 1").fetchall())
    assert current["telecom"] == telecom and current["telco"] > 0
    assert set(champions) == {"telecom", "telco"} and set(latest) == {"telecom", "telco"}
    _ok(cli("score", "--json"))  # telecom again: telco's targets stay current
    with psycopg.connect(trained_db_url) as conn:
        again = dict(conn.execute("SELECT source, count(*) FROM churndb.retention_targets WHERE is_current "
                                  "GROUP BY source").fetchall())
    assert again["telco"] == current["telco"]
    assert json.dumps(again)


def test_a_sources_outcome_feed_labels_its_snapshots_point_in_time(cli, db_url, conn, telco_file, tmp_path):
    frame, path = telco_file
    unlabelled = tmp_path / "june.csv"
    frame.drop(columns=["Churn"]).to_csv(unlabelled, index=False)
    _ok(cli("ingest", unlabelled, "--source", "feedsrc", "--id-column", "customerID", "--value-column",
            "MonthlyCharges", "--as-of", "2026-06-01", "--json"))
    res = cli("train", "--source", "feedsrc")
    assert res.code == 1 and "no snapshot has a known outcome yet" in res.err
    feed = pd.DataFrame({"customerID": frame["customerID"], "churned": frame["Churn"],
                         "churned_on": np.where(frame["Churn"] == "Yes", "2026-07-15", "")})
    feed.loc[len(feed)] = ["NOT-A-CUSTOMER", "Yes", "2026-07-01"]
    feed_path = tmp_path / "feed.csv"
    feed.to_csv(feed_path, index=False)
    loaded = _ok(cli("outcomes", "load", feed_path, "--source", "feedsrc", "--as-of", "2026-09-30", "--json"))
    assert (loaded["rows_in"], loaded["rows_loaded"], loaded["rows_rejected"]) == (1501, 1500, 1)
    reason = conn.execute("SELECT reason FROM churndb.rejected_rows WHERE batch_id = %s",
                          (loaded["batch_id"],)).fetchone()[0]
    assert "not a customer of source feedsrc" in reason
    trained = _ok(cli("train", "--source", "feedsrc", "--json"))["training"]
    assert trained["rows_train"] + trained["rows_test"] == 1500 and trained["rows_unlabelled"] == 0
    labelled = (trained["churn_rate_train"] * trained["rows_train"] + trained["churn_rate_test"] * trained["rows_test"])
    assert round(labelled) == int((frame["Churn"] == "Yes").sum())
    # The telecom layout's feed is another feed: it does not label this source's customers.
    assert conn.execute("SELECT count(*) FROM churndb.churn_outcomes WHERE source = 'feed'").fetchone()[0] == 0


def test_the_scheduled_jobs_score_retrain_and_monitor_the_configured_source(cli, db_url, conn, telco_file, tmp_path,
                                                                           monkeypatch):
    _, path = telco_file
    _load_train_promote(cli, path, "telco", "--value-column", "MonthlyCharges")
    config = tmp_path / "churndb.toml"
    config.write_text('[score]\nsource = "telco"\n')
    monkeypatch.setenv("CHURNDB_CONFIG", str(config))
    scored = _ok(cli("jobs", "run", "score", "--json"))
    assert scored["status"] == "succeeded"
    retrained = _ok(cli("jobs", "run", "retrain", "--json"))
    assert retrained["status"] in ("promoted", "kept")
    runs = conn.execute("SELECT DISTINCT source FROM churndb.scoring_runs").fetchall()
    assert runs == [("telco",)]
    models = conn.execute("SELECT DISTINCT source FROM churndb.model_versions").fetchall()
    assert models == [("telco",)]


def test_a_source_named_like_a_job_is_scored_by_that_job(cli, db_url, conn, telco_file, tmp_path, monkeypatch):
    """A job's lock and a source's targets build once shared a key space: the "score" job scoring a source
    called "score" waited for its own lock for ever.  A lock wait beyond 30 s fails the run here, not the suite."""
    _, path = telco_file
    _load_train_promote(cli, path, "score", "--value-column", "MonthlyCharges")
    config = tmp_path / "churndb.toml"
    config.write_text('[score]\nsource = "score"\n')
    monkeypatch.setenv("CHURNDB_CONFIG", str(config))
    monkeypatch.setenv("CHURNDB_LOCK_TIMEOUT", "30s")
    scored = _ok(cli("jobs", "run", "score", "--json"))
    assert scored["status"] == "succeeded", scored
    assert conn.execute("SELECT count(*) FROM churndb.retention_targets WHERE source = 'score'").fetchone()[0] > 0


def test_keys_keep_their_leading_zeros_and_row_numbers_are_not_features(cli, db_url, conn, tmp_path):
    df = generate(300, seed=9)
    frame = pd.DataFrame({"RowNumber": range(1, 301), "CustomerId": [f"{i:06d}" for i in range(300)],
                          "Geography": df["region_circle"], "Balance": df["monthly_charges"],
                          "Exited": df["is_churn"]})
    path = tmp_path / "bank.csv"
    frame.to_csv(path, index=False)
    _ok(cli("ingest", path, "--source", "bank", "--id-column", "CustomerId", "--label-column", "Exited",
            "--as-of", "2026-10-01", "--json"))
    keys = {r[0] for r in conn.execute("SELECT customer_key FROM churndb_source.bank").fetchall()}
    assert keys == set(frame["CustomerId"])  # "000012" stays "000012"
    roles = {c["header"]: c["role"] for c in _ok(cli("sources", "show", "bank", "--json"))["columns"]}
    assert roles == {"RowNumber": "identifier", "CustomerId": "key", "Geography": "feature", "Balance": "feature",
                     "Exited": "label"}


def test_exports_with_currency_signs_grouped_thousands_and_dotted_labels_load_as_numbers(cli, db_url, conn, tmp_path):
    """The classic telecom churn file writes labels as 'True.'/'False.'; billing exports write '$1,234.50'."""
    df = generate(400, seed=4)
    frame = pd.DataFrame({"Phone": [f"382-{i:04d}" for i in range(400)], "Plan": df["plan_type"],
                          "Day Charge": [f"${v * 30:,.2f}" for v in df["monthly_charges"]],
                          "Churn?": np.where(df["is_churn"] == 1, "True.", "False.")})
    path = tmp_path / "classic.csv"
    frame.to_csv(path, index=False)
    loaded = _ok(cli("ingest", path, "--source", "classic", "--id-column", "Phone", "--label-column", "Churn?",
                     "--as-of", "2026-10-01", "--json"))
    assert (loaded["rows_loaded"], loaded["labels_loaded"]) == (400, 400)
    total, churners = conn.execute("SELECT sum(day_charge), count(*) FILTER (WHERE churn) "
                                   "FROM churndb_source.classic").fetchone()
    assert total == pytest.approx(float((df["monthly_charges"] * 30).round(2).sum()), rel=1e-9)
    assert churners == int(df["is_churn"].sum())


def test_a_dask_run_of_a_source_publishes_what_a_local_run_does(cli, db_url, conn, telco_file):
    _, path = telco_file
    _load_train_promote(cli, path, "telco", "--value-column", "MonthlyCharges")
    def published(run_id):
        history = conn.execute("SELECT customer_key, source, churn_probability, risk_category, estimated_revenue_at_risk, "
                               "top_reasons FROM churndb.score_history WHERE run_id = %s ORDER BY customer_key",
                               (run_id,)).fetchall()
        targets = conn.execute("SELECT customer_key, treatment_group, top_reasons FROM churndb.retention_targets "
                               "WHERE run_id = %s ORDER BY customer_key", (run_id,)).fetchall()
        return history, targets

    local = _ok(cli("score", "--source", "telco", "--json"))
    before = published(local["run_id"])  # the targets carry the newest run's id once the Dask run publishes
    dask = _ok(cli("score", "--source", "telco", "--executor", "dask", "--workers", "2", "--partitions", "3",
                   "--json"))
    assert dask["partitions"] == 3 and dask["customers_scored"] == local["customers_scored"] == 1500
    assert published(dask["run_id"]) == before and before[1]
    assert {r[1] for r in published(dask["run_id"])[0]} == {"telco"}


def test_an_integer_key_that_turns_to_text_is_a_changed_type_not_a_quarantined_file(cli, db_url, conn, tmp_path):
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text("account,plan,left\n101,a,yes\n102,b,no\n")
    second.write_text("account,plan,left\nA-101,a,yes\nA-102,b,no\n")
    _ok(cli("ingest", first, "--source", "intkey", "--id-column", "account", "--label-column", "left",
            "--as-of", "2026-10-01", "--json"))
    res = cli("ingest", second, "--source", "intkey", "--as-of", "2026-11-01")
    assert res.code == 1 and "key column 'account' was bigint" in res.err
    assert conn.execute("SELECT count(*) FROM churndb.ingest_batches").fetchone()[0] == 1
