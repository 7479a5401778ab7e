"""The synthetic generator: deterministic, in the telecom layout, with a learnable label."""

import numpy as np
from sklearn.metrics import roc_auc_score

from churndb.model import telecom
from churndb.model.sample import generate, true_churn_probability


def test_same_seed_same_data_other_seed_other_data():
    a, b, c = generate(2_000, seed=3), generate(2_000, seed=3), generate(2_000, seed=4)
    assert a.equals(b)
    assert not a.equals(c)


def test_rows_respect_the_schema():
    df = generate(20_000, seed=1)
    assert list(df.columns) == [c.name for c in telecom.COLUMNS] + [telecom.LABEL]
    assert df["customer_id"].is_unique and (df["customer_id"] > 0).all()
    for col in telecom.COLUMNS:
        values = df[col.name]
        if col.kind == "category":
            assert set(values.unique()) <= set(col.allowed), col.name
        elif col.kind == "flag":
            assert set(values.unique()) <= {0, 1}, col.name
        elif col.kind in ("integer", "number"):
            assert values.min() >= col.low, col.name
            if col.high is not None:
                assert values.max() <= col.high, col.name
    assert (df["num_complaints_3m"] <= df["num_complaints_12m"]).all()
    assert (df["total_charges"] >= df["monthly_charges"]).all()


def test_label_follows_the_documented_mechanism():
    df = generate(50_000, seed=2)
    p = true_churn_probability(df)
    rate = df[telecom.LABEL].mean()
    assert 0.15 < rate < 0.40
    assert abs(p.mean() - rate) < 0.01
    assert roc_auc_score(df[telecom.LABEL], p) > 0.75
    # Direction of a few documented effects.
    month_to_month = df["contract_type"].eq("Month-to-Month")
    two_year = df["contract_type"].eq("2 Year")
    assert df.loc[month_to_month, telecom.LABEL].mean() > df.loc[two_year, telecom.LABEL].mean() + 0.1
    offer = df["received_competitor_offer_flag"].eq(1)
    assert df.loc[offer, telecom.LABEL].mean() > df.loc[~offer, telecom.LABEL].mean()
    assert np.all((p > 0) & (p < 1))
