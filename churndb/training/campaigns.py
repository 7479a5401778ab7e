"""``churndb train-uplift --campaign C``: learn what a contact buys from a matured campaign.

The campaign's customers with a known outcome -- its control group and the treatment customers the
CRM contacted -- are read with the snapshot the campaign scored them from.  A stable hash of
(campaign, customer) holds 30% of them out; a two-model T-learner (``model.uplift.TLearner``) on the
same input columns as the churn model that scored the campaign is fitted on the rest.  On the
hold-out its Qini is compared with ranking the same customers by the churn probability the campaign
gave them; the model is signed and registered either way, and it is put in use for targeting
(champion of kind ``uplift`` for the source) only if its Qini beats risk ranking's with the
bootstrap 95% interval of the difference above zero.  Otherwise it is recorded as rejected.
"""

from __future__ import annotations

import time

import numpy as np
import psycopg

from ..base.errors import ChurnDBError
from ..base.config import Settings
from ..model.bands import stable_position
from ..model.uplift import TLearner, compare, qini
from ..store import db, registry, signing, sources
from ..store.copy import copy_out
from ..store.sqlfiles import statements
from .fit import library_versions

SQL = statements(__name__)
MIN_PER_GROUP = 100        # contacted and control customers with known outcomes, each
HOLDOUT_SHARE = 0.3
HOLDOUT_HASH_KEY = "churndb-holdout1"  # 16 bytes


def matured_campaigns(conn: psycopg.Connection, source: str = sources.TELECOM) -> list[str]:
    """Campaigns of ``source`` with enough known outcomes in both groups and no uplift model yet."""
    return [r[0] for r in conn.execute(SQL.query("matured_campaigns"),
                                       {"source": source, "minimum": MIN_PER_GROUP}).fetchall()]


def train_uplift(url: str, settings: Settings, campaign: str, source: str = sources.TELECOM, seed: int = 0) -> dict:
    started = time.perf_counter()
    key = signing.signing_key(settings)
    with db.connect(url) as conn:
        layout = sources.require(conn, source)
        frame = copy_out(conn, SQL.compose("copy_campaign_customers", table=layout.table),
                         {"campaign": campaign, "source": layout.name}, text_columns=layout.text_columns)
        treated_n = int(frame["uplift_treated"].sum()) if len(frame) else 0
        control_n = len(frame) - treated_n
        if treated_n < MIN_PER_GROUP or control_n < MIN_PER_GROUP:
            raise ChurnDBError(f"campaign {campaign!r} of source {layout.name} has {treated_n:,} contacted and "
                               f"{control_n:,} control customers with a known outcome; an uplift model needs at "
                               f"least {MIN_PER_GROUP} of each (load outcomes with `churndb outcomes load`)")
        scored_by = int(frame["uplift_scored_by"].mode().iloc[0])
        categorical, numeric = conn.execute(SQL.query("model_columns"), {"model_version": scored_by}).fetchone()
    treated = frame["uplift_treated"].to_numpy() == 1
    churned = frame["uplift_churned"].to_numpy().astype(int)
    risk = frame["uplift_risk"].to_numpy(dtype=float)
    holdout = stable_position(frame["customer_id"].to_numpy(), campaign, HOLDOUT_HASH_KEY) < HOLDOUT_SHARE
    fit_rows, test_rows = ~holdout, holdout
    for name, rows, least in (("fitting", fit_rows, 50), ("hold-out", test_rows, 30)):
        if min((treated & rows).sum(), (~treated & rows).sum()) < least:
            raise ChurnDBError(f"campaign {campaign!r}: its {name} part has fewer than {least} contacted or control "
                               "customers; wait for more outcomes")
    model = TLearner(categorical, numeric, seed=seed).fit(frame[fit_rows], treated[fit_rows], churned[fit_rows])
    predicted = model.uplift(frame[test_rows])
    verdict = compare(predicted, risk[test_rows], treated[test_rows], churned[test_rows], seed=seed)
    on_model = qini(predicted, treated[test_rows], churned[test_rows])
    on_risk = qini(risk[test_rows], treated[test_rows], churned[test_rows])
    metrics = {"qini": verdict.qini_uplift, "qini_risk_ranking": verdict.qini_risk,
               "difference_low": verdict.difference_low, "difference_high": verdict.difference_high,
               "used_for_targeting": verdict.used_for_targeting, "uplift_model": on_model, "risk_ranking": on_risk,
               "rule": "used only if its hold-out Qini beats risk ranking's with the bootstrap 95% interval "
                       "of the difference above zero"}
    training = {"campaign": campaign, "source": layout.name, "scored_by_model": scored_by,
                "rows": len(frame), "treated": treated_n, "control": control_n,
                "rows_train": int(fit_rows.sum()), "holdout_treated": int((treated & test_rows).sum()),
                "holdout_control": int((~treated & test_rows).sum()),
                "holdout": f"stable hash of (campaign, customer) < {HOLDOUT_SHARE}",
                "seconds": round(time.perf_counter() - started, 2)}
    spec = {"kind": "uplift", "learner": "t-learner (LightGBM)", "campaign": campaign, "source": layout.name,
            "seed": seed}
    try:
        with db.transaction(url) as conn:
            version = registry.register(conn, key, model, spec=spec,
                                        feature_spec={"categorical": list(categorical), "numeric": list(numeric)},
                                        training=training, metrics=metrics, library_versions=library_versions())
            if verdict.used_for_targeting:
                registry.promote(conn, version, f"uplift model on campaign {campaign}: hold-out Qini "
                                                f"{verdict.qini_uplift:+.4f} beats risk ranking's {verdict.qini_risk:+.4f}")
            else:
                registry.reject(conn, version)
    except psycopg.Error as exc:
        raise db.as_churndb_error(exc) from None
    return {"model_version": version, "campaign_id": campaign, "source": layout.name,
            "qini": verdict.qini_uplift, "qini_risk_ranking": verdict.qini_risk,
            "difference_interval": [verdict.difference_low, verdict.difference_high],
            "used_for_targeting": verdict.used_for_targeting,
            "uplift_at": {k: on_model[k] for k in ("uplift_at_10", "uplift_at_20", "uplift_at_30")},
            "risk_uplift_at": {k: on_risk[k] for k in ("uplift_at_10", "uplift_at_20", "uplift_at_30")},
            "training": training, "seconds": round(time.perf_counter() - started, 2)}


def describe(result: dict) -> list[str]:
    t = result["training"]
    low, high = result["difference_interval"]
    used = "yes" if result["used_for_targeting"] else "no (it does not beat risk ranking beyond doubt)"
    pct = lambda v: "n/a" if v is None or v != v else f"{v:+.1%}"  # noqa: E731
    return [
        f"uplift model {result['model_version']} on campaign {result['campaign_id']} (source {result['source']}): "
        f"fitted on {t['rows_train']:,} customers, measured on a hold-out of {t['holdout_treated']:,} contacted and "
        f"{t['holdout_control']:,} control customers",
        f"  Qini {result['qini']:+.4f} vs ranking by churn risk {result['qini_risk_ranking']:+.4f} "
        f"(difference 95% interval {low:+.4f} .. {high:+.4f})",
        "  uplift at top 10/20/30%: model " + " / ".join(pct(v) for v in result["uplift_at"].values())
        + ", risk ranking " + " / ".join(pct(v) for v in result["risk_uplift_at"].values()),
        f"  used for targeting: {used}",
    ]
