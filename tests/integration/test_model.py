"""Training honestly: hold-out metrics, registry, signatures, champion / challenger."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from churndb import ChurnScorer
from churndb.store import db, registry
from churndb.base.config import load_settings
from churndb.base.errors import ArtifactError
from churndb.model.sample import generate
from churndb.store.signing import signing_key
from churndb.training.candidate import train
from churndb.training.dataset import load_training_set
from churndb.training.fit import split
from churndb.training.spec import LABEL, TrainingSpec

METRICS = ("auc", "accuracy", "precision", "recall", "f1", "brier", "ece")


def test_train_json_reports_every_metric_and_registers_a_candidate(cli, trained_conn):
    res = cli("train", "--json")
    assert res.code == 0, res.err
    out = res.json
    assert out["status"] == "candidate" and out["model_version"] == 2
    for name in METRICS:
        assert 0.0 <= out["metrics"][name] <= 1.0, name
    assert out["metrics"]["auc"] > 0.7
    assert set(out["base_learners"]) == {"xgboost", "random_forest", "lightgbm"}
    cm = out["confusion_matrix"]
    assert sum(cm.values()) == out["training"]["rows_test"]
    stored, sha, signature, size = trained_conn.execute(
        "SELECT metrics, artifact_sha256, artifact_signature, octet_length(artifact) FROM model_versions "
        "WHERE model_version = 2").fetchone()
    assert all(stored[k] == out["metrics"][k] for k in METRICS)
    assert len(sha) == 64 and len(signature) == 64 and size > 10_000
    assert "seconds" in out


def test_metrics_are_measured_on_rows_the_model_never_saw(trained_db_url):
    spec = TrainingSpec(seed=42)
    data = load_training_set(trained_db_url, spec)
    train_rows, test_rows, _ = split(data, spec)
    assert not set(train_rows["customer_id"]) & set(test_rows["customer_id"])
    assert len(train_rows) + len(test_rows) == len(data.frame)
    with db.connect(trained_db_url) as conn:
        _, model, _ = registry.load(conn, signing_key(load_settings()), 1)
        stored = conn.execute("SELECT metrics FROM model_versions WHERE model_version = 1").fetchone()[0]
    holdout_auc = roc_auc_score(test_rows[LABEL], model.predict_proba(test_rows)[:, 1])
    training_auc = roc_auc_score(train_rows[LABEL], model.predict_proba(train_rows)[:, 1])
    assert stored["auc"] == pytest.approx(holdout_auc, abs=1e-12)
    # Scoring its own training rows (what the old script did) flatters the model.
    assert training_auc > holdout_auc + 0.05


def test_no_label_leaks_into_features(trained_db_url):
    with db.connect(trained_db_url) as conn:
        _, model, _ = registry.load(conn, signing_key(load_settings()), 1)
    features = model.features
    names = set(features.feature_names_out_)
    assert not names & {"is_churn", LABEL, "customer_id", "as_of_date", "batch_id"}
    frame = generate(300, seed=4)
    flipped = frame.assign(is_churn=1 - frame["is_churn"], label=1)
    np.testing.assert_array_equal(features.transform(frame), features.transform(flipped))


def test_unseen_and_missing_categories_still_score(trained_db_url):
    scorer = ChurnScorer.from_database()
    frame = generate(20, seed=5)
    odd = frame.copy()
    odd.loc[0, "contract_type"] = "Lifetime Deal"
    odd.loc[1, "gender"] = None
    odd.loc[2, "tenure_months"] = np.nan
    scored = scorer.score_batch(odd)
    assert scored["churn_probability"].between(0, 1).all() and len(scored) == 20
    # Untouched rows score exactly as before.
    np.testing.assert_allclose(scored["churn_probability"].to_numpy()[3:],
                               scorer.score_batch(frame)["churn_probability"].to_numpy()[3:], rtol=0, atol=1e-12)


def test_same_seed_same_model(trained_db_url):
    settings = load_settings()
    a = train(trained_db_url, settings, TrainingSpec(seed=7))
    b = train(trained_db_url, settings, TrainingSpec(seed=7))
    # Multi-threaded histogram sums may differ in the last bit; nothing more.
    for name in METRICS:
        assert a["metrics"][name] == pytest.approx(b["metrics"][name], rel=1e-9, abs=1e-12), name
    frame = generate(500, seed=8)
    pa = ChurnScorer.from_database(model=a["model_version"]).score_batch(frame)["churn_probability"]
    pb = ChurnScorer.from_database(model=b["model_version"]).score_batch(frame)["churn_probability"]
    np.testing.assert_allclose(pa.to_numpy(), pb.to_numpy(), rtol=0, atol=1e-9)


def test_tampered_swapped_unsigned_and_wrong_key_artifacts_are_refused(cli, trained_conn, tmp_path, monkeypatch):
    assert cli("train", "--json").code == 0  # model 2, a second genuine artifact
    key = signing_key(load_settings())

    def load(version):
        return registry.load(trained_conn, key, version)

    original = trained_conn.execute("SELECT artifact, artifact_signature FROM model_versions "
                                    "WHERE model_version = 1").fetchone()
    # 1. altered bytes
    trained_conn.execute("UPDATE model_versions SET artifact = overlay(artifact placing '\\x00'::bytea from 200) "
                         "WHERE model_version = 1")
    with pytest.raises(ArtifactError, match="altered"):
        load(1)
    # 2. another version's artifact, sha and signature copied onto this row
    trained_conn.execute("UPDATE model_versions m SET artifact = o.artifact, artifact_sha256 = o.artifact_sha256, "
                         "artifact_signature = o.artifact_signature FROM model_versions o "
                         "WHERE m.model_version = 1 AND o.model_version = 2")
    with pytest.raises(ArtifactError, match="signature is not valid"):
        load(1)
    # 3. a pickle with a payload, with its own correct sha256 but no valid signature
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    evil = pickle.dumps(Payload())
    trained_conn.execute("UPDATE model_versions SET artifact = %s, artifact_sha256 = encode(sha256(%s), 'hex') "
                         "WHERE model_version = 1", (evil, evil))
    with pytest.raises(ArtifactError):
        load(1)
    assert not marker.exists(), "the artifact was unpickled before verification"
    # 4. no signature at all
    trained_conn.execute("UPDATE model_versions SET artifact = %s, artifact_signature = '' WHERE model_version = 1",
                         (original[0],))
    with pytest.raises(ArtifactError, match="no signature"):
        load(1)
    # 5. genuine artifact, but verified with another key
    trained_conn.execute("UPDATE model_versions SET artifact_signature = %s, artifact_sha256 = encode(sha256(artifact), 'hex') "
                         "WHERE model_version = 1", (original[1],))
    assert load(1)[0] == 1
    monkeypatch.setenv("CHURNDB_SIGNING_KEY", "another-key-of-the-same-length-as-a-real-one")
    with pytest.raises(ArtifactError):
        registry.load(trained_conn, signing_key(load_settings()), 1)
    res = cli("models", "promote", "2")  # promotion itself does not unpickle; scoring does
    assert res.code == 0


def test_promote_rollback_and_history(cli, trained_conn):
    assert cli("train", "--json").json["model_version"] == 2
    assert cli("train", "--json").json["model_version"] == 3
    assert cli("models", "promote", "2", "--json").json["previous_champion"] == 1
    assert cli("models", "promote", "3", "--json").code == 0
    statuses = dict(trained_conn.execute("SELECT model_version, status FROM model_versions").fetchall())
    assert statuses == {1: "retired", 2: "retired", 3: "champion"}
    assert cli("models", "rollback", "--json").json["model_version"] == 2
    assert cli("models", "rollback", "--json").json["model_version"] == 1
    res = cli("models", "rollback")
    assert res.code == 1 and "no previous champion" in res.err
    assert trained_conn.execute("SELECT count(*) FROM model_versions WHERE status = 'champion'").fetchone()[0] == 1
    history = trained_conn.execute("SELECT action, from_version, to_version FROM model_deployments "
                                   "ORDER BY deployment_id").fetchall()
    assert history == [("promote", None, 1), ("promote", 1, 2), ("promote", 2, 3), ("rollback", 3, 2),
                       ("rollback", 2, 1)]
    when_3 = trained_conn.execute("SELECT deployed_at FROM model_deployments WHERE to_version = 3").fetchone()[0]
    assert registry.champion_at(trained_conn, when_3) == 3
    listing = cli("models", "list", "--json").json["models"]
    assert [m["model_version"] for m in listing] == [1, 2, 3]
    shown = cli("models", "show", "3", "--json").json
    assert shown["model"]["metrics"]["auc"] == listing[2]["auc"]
    assert cli("models", "promote", "99").code == 1


def test_promote_if_better_keeps_a_better_champion_and_records_why(trained_db_url, trained_conn):
    settings = load_settings()
    weak = TrainingSpec(seed=42)
    weak.hyperparameters = {"xgboost": {"n_estimators": 2, "max_depth": 1, "learning_rate": 0.1},
                            "random_forest": {"n_estimators": 2, "max_depth": 1},
                            "lightgbm": {"n_estimators": 2, "max_depth": 1, "learning_rate": 0.1},
                            "meta": {"C": 1.0}, "cv_folds": 2}
    kept = train(trained_db_url, settings, weak, promote_if_better=True)
    assert kept["status"] == "rejected" and kept["decision"]["promote"] is False
    assert kept["decision"]["candidate"]["auc"] < kept["decision"]["champion"]["auc"]
    promoted = train(trained_db_url, settings, TrainingSpec(seed=43), promote_if_better=True)
    assert promoted["status"] == "champion", promoted["decision"]
    row = trained_conn.execute("SELECT training -> 'promotion_decision', status FROM model_versions "
                               "WHERE model_version = %s", (kept["model_version"],)).fetchone()
    assert row[0]["promote"] is False and row[1] == "rejected"
    details = trained_conn.execute("SELECT details FROM model_deployments ORDER BY deployment_id DESC LIMIT 1").fetchone()[0]
    assert details["candidate"]["auc"] == promoted["decision"]["candidate"]["auc"]


def test_scorer_refuses_bad_input_naming_the_columns(trained_db_url):
    scorer = ChurnScorer.from_database()
    frame = generate(5, seed=1)
    with pytest.raises(Exception, match="missing column.*tenure_months"):
        scorer.score_batch(frame.drop(columns=["tenure_months"]))
    bad = frame.astype({"age": object})
    bad.loc[0, "age"] = "forty"
    with pytest.raises(Exception, match="must be numeric: age"):
        scorer.score_batch(bad)


def test_training_from_an_operator_export(cli, db_url, write_csv):
    df = generate(3_000, seed=12)
    export = pd.DataFrame({
        "Subscriber Ref": df["customer_id"], "Contract": df["contract_type"], "Tenure": df["tenure_months"],
        "Complaints": df["num_complaints_3m"], "Drop Rate": df["dropped_call_rate"],
        "Competitor Offer": np.where(df["received_competitor_offer_flag"] == 1, "Yes", "No"),
        "Bill": df["monthly_charges"], "Left": np.where(df["is_churn"] == 1, "Yes", "No"),
    })
    res = cli("ingest", write_csv(export.to_csv(index=False)), "--table", "operator_x",
              "--id-column", "Subscriber Ref", "--label-column", "Left", "--json")
    assert res.code == 0 and res.json["rows_loaded"] == 3_000
    res = cli("train", "--source", "operator_x", "--id-column", "subscriber_ref", "--label-column", "left", "--json")
    assert res.code == 0, res.err
    out = res.json
    assert out["training"]["source"] == "churndb_import.operator_x"
    assert out["metrics"]["auc"] > 0.6
    with db.connect(db_url) as conn:
        spec = conn.execute("SELECT feature_spec FROM model_versions WHERE model_version = %s",
                            (out["model_version"],)).fetchone()[0]
    assert set(spec["categorical"]) == {"contract", "competitor_offer"}
    assert set(spec["numeric"]) == {"tenure", "complaints", "drop_rate", "bill"}


@pytest.mark.parametrize("source", ["operator_x; DROP TABLE churndb.model_versions", 'x" OR 1=1 --', "pg_catalog.pg_authid"])
def test_hostile_source_names_are_refused(cli, db_url, source):
    res = cli("train", "--source", source, "--id-column", "id", "--label-column", "left")
    assert res.code == 1 and "no table or view" in res.err


def test_point_in_time_labels_from_an_outcome_feed(db_url, conn):
    """Label for snapshot D = churned in (D + lead, D + lead + horizon]; unknown until the feed covers it."""
    conn.execute("INSERT INTO ingest_batches (source_file, file_sha256, target_table, rows_in, rows_loaded, "
                 "rows_rejected) VALUES ('f', 'x', 'customer_snapshots', 3, 3, 0)")
    for cid in (1, 2, 3):
        conn.execute("INSERT INTO customer_snapshots (customer_id, as_of_date, tenure_months, batch_id) "
                     "VALUES (%s, '2026-01-31', 5, 1)", (cid,))
    # 1 churns inside the 90-day window, 2 after it, 3 never; the feed covers through 2026-06-30.
    for cid, day in ((1, "2026-03-15"), (2, "2026-06-01")):
        conn.execute("INSERT INTO churn_outcomes (customer_id, observed_as_of, churned, churned_on, source) "
                     "VALUES (%s, %s, true, %s, 'feed')", (cid, day, day))
    spec = TrainingSpec(horizon_days=90)
    data = load_training_set(db_url, spec)
    labels = dict(zip(data.frame["customer_id"], data.frame[LABEL]))
    assert labels == {1: 1, 2: 0, 3: 0}
    # With a longer horizon than the feed covers, the unknown rows are left out, not guessed.
    spec = TrainingSpec(horizon_days=200)
    data = load_training_set(db_url, spec)
    assert dict(zip(data.frame["customer_id"], data.frame[LABEL])) == {1: 1, 2: 1}
    assert data.unlabelled_rows == 1


def test_the_comparison_leaves_out_rows_the_champion_was_trained_on(trained_db_url, trained_conn):
    """A candidate with a larger hold-out (40%) than the champion's (20%) holds out rows the champion was
    fitted on; comparing on those would flatter the champion.  Only the champion's own hold-out rows,
    which neither model saw, may be compared."""
    champion_holdout = trained_conn.execute(
        "SELECT (training ->> 'rows_test')::int FROM model_versions WHERE model_version = 1").fetchone()[0]
    result = train(trained_db_url, load_settings(), TrainingSpec(seed=44, test_size=0.4), promote_if_better=True)
    decision = result["decision"]
    assert result["training"]["rows_test"] > champion_holdout
    assert decision["comparison_rows"] == champion_holdout
