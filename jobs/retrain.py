"""Quarterly job: train -> validate -> promote -> rescore, as the original deployment did by hand.

1. train a candidate on the training window (``--start/--end``, default the
   quarter up to the latest snapshot; only rows whose outcomes are known);
2. shadow-score it beside the champion (history only, marked shadow);
3. validate it against the champion on its hold-out rows that neither model
   was fitted on; promote only if it is not worse (``[retrain]`` tolerances);
4. if promoted, rescore everyone with the new champion and run the monitor;
5. for every campaign of the source that has matured (enough known outcomes among contacted and
   control customers) and has no uplift model yet, train one (``train-uplift``); it is used for
   uplift targeting only if it beats ranking by churn risk on its hold-out.
Every step is recorded in the job's result.  If rescoring fails after a
promotion, the promotion is rolled back, so the previous champion and its
targets stay in place.

``[score] source`` names the source the job retrains and rescores (default the telecom layout; a
registered source trains on all its snapshots unless ``--start/--end`` say otherwise).
"""

from __future__ import annotations

import datetime as dt

from churndb.base.config import Settings
from churndb.base.errors import ChurnDBError
from churndb.ops.monitor import monitor
from churndb.scoring.coordinator import score
from churndb.store import db, registry
from churndb.training.candidate import train
from churndb.training.dataset import snapshot_date_range
from churndb.training.promotion import PromotionRule, validate
from churndb.training.spec import TrainingSpec
from churndb.training.campaigns import matured_campaigns, train_uplift


def default_window(url: str) -> tuple[dt.date | None, dt.date | None]:
    _, latest = snapshot_date_range(url)
    if latest is None:
        return None, None
    return latest - dt.timedelta(days=91), latest


def run(url: str, settings: Settings, start: dt.date | None = None, end: dt.date | None = None) -> dict:
    rule = PromotionRule.from_settings(settings)
    source = settings.get("score", "source", str, registry.TELECOM)
    if start is None and end is None and source == registry.TELECOM:
        start, end = default_window(url)
    steps = []
    spec = TrainingSpec(start=start, end=end) if source == registry.TELECOM else \
        TrainingSpec(source=source, start=start, end=end)
    trained = train(url, settings, spec)
    candidate = trained["model_version"]
    steps.append({"step": "train", "model_version": candidate, "metrics": trained["metrics"]})
    with db.connect(url) as conn:
        has_champion = registry.champion_version(conn, source) is not None
    if has_champion:
        shadow = score(url, settings, model=candidate, shadow=True, reasons=False)
        steps.append({"step": "shadow_score", "run_id": shadow["run_id"]})
    decision = validate(url, settings, candidate, rule)
    steps.append({"step": "validate", **decision})
    steps.extend(uplift_steps(url, settings, source))
    if not decision["promote"]:
        return {"job_status": "kept", "model_version": candidate, "steps": steps,
                "window": [str(start), str(end)]}
    try:
        rescored = score(url, settings)
    except Exception:
        with db.transaction(url) as conn:
            registry.rollback(conn, f"retrain: rescoring with model {candidate} failed", source)
        raise
    steps.append({"step": "rescore", "run_id": rescored["run_id"], "segments": rescored["segments"]})
    watched = monitor(url, settings)
    steps.append({"step": "monitor", "alerts": len(watched["alerts"])})
    return {"job_status": "promoted", "model_version": candidate, "run_id": rescored["run_id"], "steps": steps,
            "window": [str(start), str(end)]}


def uplift_steps(url: str, settings: Settings, source: str) -> list[dict]:
    """An uplift model for each matured campaign that has none yet."""
    with db.connect(url) as conn:
        campaigns = matured_campaigns(conn, source)
    steps = []
    for campaign in campaigns:
        try:
            fitted = train_uplift(url, settings, campaign, source)
        except ChurnDBError as exc:  # e.g. too few customers on one side of the hold-out split: wait
            steps.append({"step": "train_uplift", "campaign_id": campaign, "skipped": str(exc)})
            continue
        steps.append({"step": "train_uplift", "campaign_id": campaign, "model_version": fitted["model_version"],
                      "qini": fitted["qini"], "qini_risk_ranking": fitted["qini_risk_ranking"],
                      "used_for_targeting": fitted["used_for_targeting"]})
    return steps
