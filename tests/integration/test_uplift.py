"""Uplift targeting and offer experiments, on the trained 5,000-customer database.

A pilot campaign holds half of the targeted customers out as control; outcomes are simulated from the
generator's known treatment effects (``model.uplift.true_effects``) and loaded as a CRM feed would
load them.  What users rely on: an uplift model that does not beat risk ranking is never used; the
contract of ``train-uplift --json``; arms stable within a campaign and redrawn in the next; the
control group never contacted and never given an arm; ``v_offer_experiments`` calls a winner only
beyond doubt.
"""

import datetime as dt
import decimal

import numpy as np
import pandas as pd
import pytest

from churndb.model import telecom
from churndb.model.sample import generate
from churndb.model.uplift import TLearner, simulate_campaign, true_effects
from churndb.store import db, registry
from tests.conftest import TEST_SIGNING_KEY, TRAINED_ROWS, run_score

pytestmark = pytest.mark.slow

FEED_AS_OF = dt.date.today() - dt.timedelta(days=3)
CHURNED_ON = FEED_AS_OF - dt.timedelta(days=20)


def _policy(conn, *, control_share=0.1, targeting="risk", budget=None, arms=()):
    """A new policy version like the default one; ``arms``: (category, arm, offer, share, cost)."""
    version = conn.execute("""
        WITH p AS (INSERT INTO segment_policy (effective_from, success_rate, value_horizon_months, control_share,
                                               program_budget, targeting)
                   VALUES (now(), 0.4, 12, %s, %s, %s) RETURNING policy_version)
        INSERT INTO segment_policy_bands SELECT p.policy_version, b.risk_category, b.min_score, b.max_score,
               b.retention_action, b.intervention_cost, b.targeted
        FROM p, segment_policy_bands b WHERE b.policy_version = 1 RETURNING policy_version""",
                           (control_share, budget, targeting)).fetchone()[0]
    for arm in arms:
        conn.execute("INSERT INTO segment_policy_arms VALUES (%s, %s, %s, %s, %s, %s)", (version, *arm))
    return version


def _pilot(conn, cli, write_csv, effect: float) -> pd.DataFrame:
    """Score a pilot campaign (half of the targets held out), simulate and load its outcomes."""
    _policy(conn, control_share=0.5)
    run = run_score(cli, "--campaign", "pilot", "--no-reasons")
    groups = pd.DataFrame(conn.execute("SELECT customer_id, treatment_group FROM retention_targets WHERE run_id = %s",
                                       (run["run_id"],)).fetchall(), columns=["customer_id", "group"])
    population = generate(TRAINED_ROWS, seed=17)  # the customers of the trained database
    effects = true_effects(population, seed=5, effect=effect).set_index(population["customer_id"])
    treated = (groups["group"] == "treatment").to_numpy()
    churned = simulate_campaign(effects.loc[groups["customer_id"]], treated, seed=6)
    feed = pd.DataFrame({"customer_id": groups["customer_id"], "campaign_id": "pilot", "churned": churned,
                         "churned_on": np.where(churned == 1, str(CHURNED_ON), ""),
                         "contacted_at": np.where(treated, f"{CHURNED_ON - dt.timedelta(days=10)}T10:00:00+00:00", "")})
    res = cli("outcomes", "load", write_csv(feed.to_csv(index=False)), "--as-of", str(FEED_AS_OF), "--json")
    assert res.code == 0, res.err
    return groups


def test_with_no_treatment_effect_the_uplift_model_is_not_used(trained_conn, cli, write_csv, tmp_path):
    _pilot(trained_conn, cli, write_csv, effect=0.0)
    res = cli("train-uplift", "--campaign", "pilot", "--json")
    assert res.code == 0, res.err
    out = res.json
    assert {"model_version", "qini", "qini_risk_ranking", "used_for_targeting"} <= set(out)
    assert out["used_for_targeting"] is False
    version = out["model_version"]
    # Registered, signed and measured like any model, but rejected: never the source's uplift model in use.
    assert trained_conn.execute("SELECT status, kind FROM model_versions WHERE model_version = %s",
                                (version,)).fetchone() == ("rejected", "uplift")
    row = trained_conn.execute("SELECT used_for_targeting, qini, qini_risk_ranking, holdout_treated, holdout_control "
                               "FROM v_uplift_performance WHERE model_version = %s", (version,)).fetchone()
    assert row[0] is False and row[1] == pytest.approx(out["qini"]) and row[3] >= 30 and row[4] >= 30
    # A policy asking for uplift targeting falls back to risk ranking and says so.
    _policy(trained_conn, targeting="uplift", budget=20_000)
    scored = run_score(cli, "--campaign", "next", "--no-reasons")
    assert scored["targeting"]["used"] == "risk" and "train-uplift" in scored["targeting"]["why"]
    assert trained_conn.execute("SELECT count(*) FROM retention_targets WHERE is_current "
                                "AND (expected_uplift IS NOT NULL OR uplift_model_version IS NOT NULL)").fetchone()[0] == 0
    # The report shows it for what it is.
    assert cli("report", "--out", str(tmp_path / "report")).code == 0
    text = (tmp_path / "report" / "deployment_metrics.txt").read_text()
    assert f"model {version} on campaign pilot" in text and "used for targeting: no" in text
    page = (tmp_path / "report" / "report.html").read_text()
    assert 'alt="Qini: uplift model vs churn-risk ranking"' in page and 'id="offers"' in page
    # A churn score can never be made with it, nor can it be crowned by hand.
    assert "uplift model" in cli("score", "--model", str(version)).err
    assert cli("models", "promote", str(version)).code != 0


def test_a_campaign_without_enough_outcomes_is_one_line(trained_conn, cli):
    res = cli("train-uplift", "--campaign", "never-ran")
    assert res.code != 0 and len(res.err.strip().splitlines()) == 1
    assert "needs at least" in res.err


def test_uplift_targeting_ranks_the_budget_by_what_a_contact_buys(trained_conn, trained_db_url, cli, write_csv):
    """With an uplift model in use, targets carry its expected uplift and the budget goes to the largest
    expected net value; the control group is drawn exactly as under risk targeting."""
    groups = _pilot(trained_conn, cli, write_csv, effect=1.0)
    cur = trained_conn.execute("SELECT * FROM customer_snapshots")
    frame = pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])
    for column in frame.columns[frame.dtypes == object]:   # numeric(…) arrives as Decimal
        if frame[column].map(lambda v: isinstance(v, decimal.Decimal)).any():
            frame[column] = frame[column].astype(float)
    outcomes = dict(trained_conn.execute("SELECT customer_id, churned::int FROM intervention_outcomes "
                                         "WHERE campaign_id = 'pilot'").fetchall())
    rows = frame.set_index("customer_id").loc[groups["customer_id"]].reset_index()
    model = TLearner(telecom.CATEGORICAL, telecom.NUMERIC, n_estimators=50).fit(
        rows, (groups["group"] == "treatment").to_numpy(), rows["customer_id"].map(outcomes).to_numpy())
    with db.transaction(trained_db_url) as conn:  # an uplift model in use, as train-uplift would leave it
        version = registry.register(conn, TEST_SIGNING_KEY.encode(), model,
                                    spec={"kind": "uplift", "campaign": "pilot", "source": "telecom"},
                                    feature_spec={}, training={}, metrics={"used_for_targeting": True},
                                    library_versions={})
        registry.promote(conn, version, "test: an uplift model in use")
    _policy(trained_conn, targeting="risk", budget=15_000)
    by_risk = run_score(cli, "--campaign", "next", "--no-reasons")
    risk_control = set(r[0] for r in trained_conn.execute(
        "SELECT customer_id FROM score_history h WHERE run_id = %s", (by_risk["run_id"],)))
    _policy(trained_conn, targeting="uplift", budget=15_000)
    by_uplift = run_score(cli, "--campaign", "next", "--no-reasons")
    assert by_uplift["targeting"] == {"policy": "uplift", "used": "uplift", "uplift_model_version": version}
    targets = pd.DataFrame(trained_conn.execute(
        "SELECT customer_id, expected_uplift, expected_net_value::float8, estimated_intervention_cost::float8, "
        "uplift_model_version, treatment_group FROM retention_targets WHERE is_current").fetchall(),
        columns=["customer_id", "uplift", "net", "cost", "model", "group"])
    assert len(targets) and targets["uplift"].notna().all() and (targets["model"] == version).all()
    assert targets["cost"].sum() <= 15_000
    # The expected uplift is the model's own prediction, and the net value is uplift x value - cost.
    snap = frame.set_index("customer_id").loc[targets["customer_id"]].reset_index()
    np.testing.assert_allclose(targets["uplift"], model.uplift(snap), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(targets["net"], np.round(targets["uplift"] * snap["monthly_charges"] * 12
                                                        - targets["cost"], 2), atol=0.011)
    # Everyone left out had a net value no higher than the last one kept.
    kept = set(targets["customer_id"])
    history = pd.DataFrame(trained_conn.execute(
        "SELECT customer_id, expected_uplift FROM score_history WHERE run_id = %s AND expected_uplift IS NOT NULL",
        (by_uplift["run_id"],)).fetchall(), columns=["customer_id", "uplift"])
    left = history[~history["customer_id"].isin(kept)]
    left_value = frame.set_index("customer_id").loc[left["customer_id"], "monthly_charges"].to_numpy() * 12
    assert len(left) and (left["uplift"].to_numpy() * left_value - 150 <= targets["net"].min() + 0.01).all()
    # A Dask run ranks by the same model: its workers load and verify it and publish the same targets.
    on_dask = run_score(cli, "--campaign", "next", "--no-reasons", "--executor", "dask", "--workers", "2",
                        "--partitions", "3")
    assert on_dask["targeting"] == by_uplift["targeting"]
    again = trained_conn.execute(
        "SELECT customer_id, expected_uplift, expected_net_value::float8, uplift_model_version, treatment_group "
        "FROM retention_targets WHERE is_current ORDER BY customer_id").fetchall()
    assert again == [tuple(r) for r in targets[["customer_id", "uplift", "net", "model", "group"]]
                     .sort_values("customer_id").itertuples(index=False)]
    # The control draw is the same hash under both targetings (same campaign): a customer who is control
    # under one and a target under the other would be a biased measurement.
    control_ids = set(targets.loc[targets["group"] == "control", "customer_id"])
    from churndb.scoring.pipeline import control_group
    assert all(control_group(np.array(sorted(control_ids)), "next", 0.1))
    assert risk_control  # the risk run scored everyone too


ARMS = (("High", "A", "Loyalty discount 10%", 0.5, 60), ("High", "B", "Free data upgrade", 0.5, None),
        ("Critical", "call", "Retention call", 0.7, None), ("Critical", "credit", "Bill credit $50", 0.3, 50))


def _arms(conn, run_id):
    return dict(conn.execute("SELECT customer_id, offer_arm FROM score_history WHERE run_id = %s", (run_id,)).fetchall())


def test_offer_arms_are_stable_within_a_campaign_and_never_given_to_control(trained_conn, cli, write_csv):
    _policy(trained_conn, arms=ARMS)
    first = run_score(cli, "--campaign", "2027-Q1")
    second = run_score(cli, "--campaign", "2027-Q1")
    third = run_score(cli, "--campaign", "2027-Q2")
    a1, a2, a3 = (_arms(trained_conn, r["run_id"]) for r in (first, second, third))
    assert a1 == a2                                   # the same arm on every re-score of a campaign
    given = {c for c, a in a1.items() if a is not None}
    moved = sum(a1[c] != a3[c] for c in given if a3[c] is not None)
    assert given and moved > 0.25 * len(given)        # a new campaign draws again
    rows = trained_conn.execute(
        "SELECT t.customer_id, t.treatment_group, t.risk_category, t.offer_arm, t.suggested_offer, "
        "t.estimated_intervention_cost::float8 FROM retention_targets t WHERE t.is_current").fetchall()
    offers = {(c, a): (o, cost) for c, a, o, _, cost in ARMS}
    counts = {}
    for customer, group, category, arm, offer, cost in rows:
        if group == "control" or category not in ("High", "Critical"):
            assert arm is None, (customer, group, category, arm)   # control: never contacted, never an arm
            continue
        assert arm is not None
        counts[(category, arm)] = counts.get((category, arm), 0) + 1
        assert offer == offers[(category, arm)][0]
        band_cost = {"High": 75.0, "Critical": 150.0}[category]
        assert cost == (offers[(category, arm)][1] or band_cost)
    high = counts.get(("High", "A"), 0) + counts.get(("High", "B"), 0)
    assert high and abs(counts.get(("High", "A"), 0) / high - 0.5) < 0.12   # shares are honoured
    # The arm a customer had is kept with the campaign's outcomes.
    ids = [r[0] for r in rows if r[3] is not None][:50]
    feed = pd.DataFrame({"customer_id": ids, "campaign_id": "2027-Q2", "churned": 0,
                         "contacted_at": f"{FEED_AS_OF}T09:00:00+00:00"})
    assert cli("outcomes", "load", write_csv(feed.to_csv(index=False)), "--as-of", str(FEED_AS_OF)).code == 0
    assert trained_conn.execute(
        "SELECT count(*) FROM intervention_outcomes o JOIN retention_targets t USING (customer_id) "
        "WHERE o.campaign_id = '2027-Q2' AND o.offer_arm = t.offer_arm").fetchone()[0] == len(ids)


def test_arms_whose_shares_do_not_add_up_are_one_line(trained_conn, cli):
    _policy(trained_conn, arms=(("High", "A", "Loyalty discount", 0.5, None), ("High", "B", "Data", 0.3, None)))
    res = cli("score")
    assert res.code != 0 and len(res.err.strip().splitlines()) == 1 and "adding up to 0.8" in res.err


def _outcome_rows(conn, campaign, category, group, arm, n, churned, first_id):
    conn.execute("INSERT INTO intervention_outcomes (campaign_id, customer_id, treatment_group, risk_category, "
                 "contacted_at, churned, offer_arm) SELECT %s, g, %s, %s, CASE WHEN %s = 'treatment' THEN now() END, "
                 "g - %s < %s, %s FROM generate_series(%s::bigint, %s::bigint - 1) g",
                 (campaign, group, category, group, first_id, churned, arm, first_id, first_id + n))


def test_offer_experiments_call_a_winner_only_beyond_doubt(conn):
    # Campaign X, High: arm A keeps far more customers than B; control churns most.
    _outcome_rows(conn, "X", "High", "control", None, 400, 160, 1)
    _outcome_rows(conn, "X", "High", "treatment", "A", 400, 40, 1001)
    _outcome_rows(conn, "X", "High", "treatment", "B", 400, 120, 2001)
    # Campaign Y, High: two arms a hair apart -- no winner; Critical: an arm below 30 customers.
    _outcome_rows(conn, "Y", "High", "control", None, 300, 90, 3001)
    _outcome_rows(conn, "Y", "High", "treatment", "A", 200, 40, 4001)
    _outcome_rows(conn, "Y", "High", "treatment", "B", 200, 44, 5001)
    _outcome_rows(conn, "Y", "Critical", "control", None, 100, 50, 6001)
    _outcome_rows(conn, "Y", "Critical", "treatment", "call", 20, 5, 7001)
    _outcome_rows(conn, "Y", "Critical", "treatment", "credit", 100, 30, 8001)
    rows = {(r[0], r[1], r[2]): r[3:] for r in conn.execute(
        "SELECT campaign_id, risk_category, arm, status, verdict, best_arm, uplift, uplift_low, uplift_high, "
        "churn_rate, contacted, control FROM v_offer_experiments").fetchall()}
    status, verdict, best, uplift, low, high, rate, contacted, control = rows[("X", "High", "A")]
    assert (status, verdict, best) == ("measured", "better", "A")
    assert rate == pytest.approx(0.10) and uplift == pytest.approx(0.30) and low < 0.30 < high
    assert (contacted, control) == (400, 400)
    assert rows[("X", "High", "B")][1:3] == ("worse", "A")
    assert rows[("Y", "High", "A")][1:3] == ("no clear difference", None)
    assert rows[("Y", "High", "B")][1:3] == ("no clear difference", None)
    assert rows[("Y", "Critical", "call")][:2] == ("not enough data", "not enough data")
    assert rows[("Y", "Critical", "call")][3] is None          # no figure from 20 customers
    # The other arm of the segment is measured, but it has nothing measured to be compared with.
    assert rows[("Y", "Critical", "credit")][0] == "measured" and rows[("Y", "Critical", "credit")][2] is None
