"""Synthetic telecom customers with a known churn mechanism.

The attributes are drawn with plausible dependencies (plan type drives the
tier, price and contract; connection type drives speed; complaints over 12
months include the last 3).  The label is drawn from a logistic model whose
coefficients are written out in ``CHURN_LOGIT`` below; because the mechanism is
known, :func:`true_churn_probability` gives the oracle probability that the
model benchmark compares against.

Churn rises with: month-to-month / no contract, short tenure, recent complaints,
network faults and dropped calls, slow complaint resolution, late payment,
competitor offers, price (monthly charges and overage) and care contacts.
It falls with: long contracts, auto-pay, app engagement, family and
multi-service bundles, a good NPS and service rating.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .telecom import COLUMNS, LABEL

CONTRACT_EFFECT = {"Month-to-Month": 0.55, "No Contract": 0.35, "1 Year": -0.35, "2 Year": -0.95}
CHURN_INTERCEPT = -1.15
# (column, coefficient, centre): logit += coefficient * (value - centre)
CHURN_LOGIT = (
    ("tenure_months", -0.030, 24.0),
    ("num_complaints_3m", 0.45, 0.5),
    ("num_complaints_12m", 0.05, 2.0),
    ("network_issues_3m", 0.14, 1.5),
    ("dropped_call_rate", 6.0, 0.03),
    ("last_complaint_resolution_days", 0.025, 3.0),
    ("late_payment_flag_3m", 0.60, 0.0),
    ("avg_payment_delay_days", 0.03, 2.0),
    ("received_competitor_offer_flag", 0.85, 0.0),
    ("monthly_charges", 0.008, 45.0),
    ("overage_charges", 0.02, 5.0),
    ("call_center_interactions_3m", 0.10, 1.0),
    ("auto_pay_enrolled", -0.45, 0.0),
    ("app_logins_30d", -0.025, 8.0),
    ("is_family_plan", -0.35, 0.0),
    ("is_multi_service", -0.40, 0.0),
    ("nps_score", -0.008, 10.0),
    ("service_rating_last_6m", -0.30, 3.5),
    ("retention_offer_accepted_flag", -0.30, 0.0),
)

_PLAN_PRICE = {
    "Prepaid Mini": 12.0, "Prepaid Regular": 22.0, "Prepaid Unlimited": 38.0,
    "Postpaid Silver": 45.0, "Postpaid Gold": 70.0, "Postpaid Platinum": 110.0,
}


def true_churn_probability(df: pd.DataFrame) -> np.ndarray:
    """The generator's own churn probability for each row (the oracle)."""
    logit = np.full(len(df), CHURN_INTERCEPT)
    logit += df["contract_type"].map(CONTRACT_EFFECT).fillna(0.0).to_numpy(float)
    for column, coef, centre in CHURN_LOGIT:
        logit += coef * (pd.to_numeric(df[column], errors="coerce").fillna(centre).to_numpy(float) - centre)
    return 1.0 / (1.0 + np.exp(-logit))


def generate(rows: int, seed: int = 42, first_id: int = 100001) -> pd.DataFrame:
    """``rows`` synthetic customers (telecom schema + is_churn), deterministic per seed."""
    if rows < 1:
        raise ValueError("rows must be at least 1")
    rng = np.random.default_rng(seed)
    n = rows
    df = pd.DataFrame({"customer_id": np.arange(first_id, first_id + n, dtype=np.int64)})
    df["gender"] = rng.choice(["Male", "Female", "Other"], n, p=[0.49, 0.49, 0.02])
    df["age"] = np.clip(rng.normal(40, 13, n).round(), 18, 90).astype(int)
    df["region_circle"] = rng.choice(["North", "South", "East", "West", "Metro"], n, p=[0.2, 0.2, 0.15, 0.15, 0.3])
    df["connection_type"] = rng.choice(["4G", "5G", "Fiber Home Broadband"], n, p=[0.5, 0.35, 0.15])
    postpaid = rng.random(n) < 0.55
    df["plan_type"] = np.where(postpaid, "Postpaid", "Prepaid")
    pre_cat = rng.choice(["Prepaid Mini", "Prepaid Regular", "Prepaid Unlimited"], n, p=[0.35, 0.45, 0.2])
    post_cat = rng.choice(["Postpaid Silver", "Postpaid Gold", "Postpaid Platinum"], n, p=[0.5, 0.35, 0.15])
    df["base_plan_category"] = np.where(postpaid, post_cat, pre_cat)
    pre_contract = rng.choice(["No Contract", "Month-to-Month"], n, p=[0.7, 0.3])
    post_contract = rng.choice(["Month-to-Month", "1 Year", "2 Year"], n, p=[0.35, 0.35, 0.3])
    df["contract_type"] = np.where(postpaid, post_contract, pre_contract)
    df["tenure_months"] = np.minimum(rng.exponential(28, n).astype(int), 120)

    price = df["base_plan_category"].map(_PLAN_PRICE).to_numpy(float)
    fiber = df["connection_type"].eq("Fiber Home Broadband").to_numpy()
    monthly = price * rng.lognormal(0, 0.18, n) + np.where(fiber, 25.0, 0.0)
    df["monthly_charges"] = monthly.round(2)
    months = np.maximum(df["tenure_months"].to_numpy(), 1)
    df["total_charges"] = np.maximum(monthly * months * rng.uniform(0.9, 1.1, n), monthly).round(2)
    df["avg_data_gb_month"] = (rng.gamma(2.0, 6.0, n) * np.where(fiber, 8.0, 1.0)).round(2)
    df["avg_voice_mins_month"] = rng.gamma(2.0, 150.0, n).round(1)
    df["sms_count_month"] = rng.poisson(40, n).astype(float)
    df["overage_charges"] = np.where(rng.random(n) < 0.3, rng.gamma(2.0, 6.0, n), 0.0).round(2)
    df["is_family_plan"] = (rng.random(n) < 0.25).astype(int)
    df["is_multi_service"] = (rng.random(n) < np.where(fiber, 0.6, 0.2)).astype(int)

    df["network_issues_3m"] = rng.poisson(np.where(fiber, 0.8, 1.6), n)
    df["dropped_call_rate"] = np.clip(rng.beta(2, 60, n) + 0.004 * df["network_issues_3m"], 0, 1).round(4)
    base_speed = np.select([fiber, df["connection_type"].eq("5G").to_numpy()], [250.0, 120.0], 30.0)
    df["avg_data_speed_mbps"] = (base_speed * rng.lognormal(0, 0.35, n)).round(1)
    unhappy = rng.gamma(1.0, 1.0, n) * (1 + 0.3 * df["network_issues_3m"].to_numpy())
    df["num_complaints_3m"] = rng.poisson(0.35 * unhappy)
    df["num_complaints_12m"] = df["num_complaints_3m"] + rng.poisson(0.9 * unhappy)
    df["call_center_interactions_3m"] = df["num_complaints_3m"] + rng.poisson(0.8, n)
    df["last_complaint_resolution_days"] = np.where(
        df["num_complaints_12m"] > 0, rng.gamma(2.0, 2.5, n), 0.0).round(1)

    engaged = rng.random(n)
    df["app_logins_30d"] = rng.poisson(2 + 14 * engaged)
    df["selfcare_transactions_30d"] = rng.poisson(1 + 5 * engaged)
    df["auto_pay_enrolled"] = (rng.random(n) < np.where(postpaid, 0.55, 0.15)).astype(int)
    late_p = np.where(df["auto_pay_enrolled"] == 1, 0.05, 0.22)
    df["late_payment_flag_3m"] = (rng.random(n) < late_p).astype(int)
    df["avg_payment_delay_days"] = np.where(
        df["late_payment_flag_3m"] == 1, rng.gamma(2.0, 4.0, n), rng.gamma(1.0, 0.5, n)).round(1)
    df["arpu"] = (monthly + df["overage_charges"].to_numpy() * 0.8).round(2)
    df["segment_value"] = pd.cut(df["arpu"], [-np.inf, 30, 70, np.inf], labels=["Low", "Medium", "High"]).astype(str)
    satisfaction = rng.normal(0, 1, n) - 0.35 * df["num_complaints_3m"].to_numpy() - 0.1 * df["network_issues_3m"].to_numpy()
    df["nps_score"] = np.clip((satisfaction * 40 + 15).round(), -100, 100)
    df["service_rating_last_6m"] = np.clip(3.6 + 0.6 * satisfaction + rng.normal(0, 0.3, n), 1, 5).round(1)
    df["received_competitor_offer_flag"] = (rng.random(n) < 0.18).astype(int)
    df["retention_offer_accepted_flag"] = (rng.random(n) < 0.08).astype(int)

    df[LABEL] = (rng.random(n) < true_churn_probability(df)).astype(int)
    return df[[c.name for c in COLUMNS] + [LABEL]]


def write_sample(rows: int, out: Path, seed: int = 42, chunk_rows: int = 500_000) -> int:
    """Write a sample CSV in chunks (flat memory for millions of rows); returns rows written."""
    out.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    chunk = 0
    with out.open("w", encoding="utf-8", newline="") as fh:
        while written < rows:
            size = min(chunk_rows, rows - written)
            df = generate(size, seed=seed + chunk * 7919, first_id=100001 + written)
            df.to_csv(fh, index=False, header=written == 0, lineterminator="\n")
            written += size
            chunk += 1
    return written
