"""Champion / challenger: a candidate replaces the champion only if it is not worse, measured on
hold-out rows neither model was fitted on.  Status changes go through ``store.registry``."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from ..base.config import Settings, checked
from ..base.errors import ChurnDBError
from ..model.metrics import classification_metrics
from ..store import db, registry, signing
from .dataset import load_training_set
from .fit import split, trained_on
from .spec import LABEL, stored_spec


@dataclass(frozen=True)
class PromotionRule:
    """A candidate replaces the champion only if it is not worse on ranking and on calibration.

    The tolerances' one home: defaults here, ``[retrain] auc_tolerance / brier_tolerance`` in the
    config file, or the command line's ``--auc-tolerance / --brier-tolerance``."""
    auc_tolerance: float = 0.005
    brier_tolerance: float = 0.002

    @classmethod
    def from_settings(cls, settings: Settings, auc_tolerance: float | None = None,
                      brier_tolerance: float | None = None) -> "PromotionRule":
        values = {}
        for name, given in (("auc_tolerance", auc_tolerance), ("brier_tolerance", brier_tolerance)):
            values[name] = (checked(f"--{name.replace('_', '-')}", given, float) if given is not None
                            else settings.get("retrain", name, float, getattr(cls, name)))
        return cls(**values)


MIN_COMPARISON_ROWS = 200


def compare_with_champion(conn, key, candidate, test, threshold: float, rule: PromotionRule,
                          source: str = registry.TELECOM) -> dict:
    """Both models on the same hold-out rows, none of which either model was fitted on; the champion
    is the one of the candidate's ``source``."""
    champion = registry.champion_version(conn, source)
    if champion is None:
        y = test[LABEL].to_numpy()
        cand = classification_metrics(y, candidate.predict_proba(test)[:, 1], threshold)
        return {"promote": True, "reason": "no champion yet", "candidate": _brief(cand), "champion": None}
    version, model, _ = registry.load(conn, key, champion)
    champion_training = registry.show(conn, version)["training"]
    rows = test[~trained_on(test, champion_training)]
    y = rows[LABEL].to_numpy()
    base = {"champion_version": version, "comparison_rows": int(len(rows))}
    if len(rows) < MIN_COMPARISON_ROWS or len(set(y)) < 2:
        return {**base, "promote": False, "candidate": None, "champion": None,
                "reason": f"only {len(rows)} hold-out rows are unseen by champion {version}; "
                          "cannot compare fairly, champion kept"}
    try:
        champ = classification_metrics(y, model.predict_proba(rows)[:, 1], threshold)
    except ChurnDBError as exc:
        return {**base, "promote": False, "candidate": None, "champion": None,
                "reason": f"champion {version} cannot score this hold-out ({exc}); champion kept"}
    cand = classification_metrics(y, candidate.predict_proba(rows)[:, 1], threshold)
    auc_ok = cand["auc"] >= champ["auc"] - rule.auc_tolerance
    brier_ok = cand["brier"] <= champ["brier"] + rule.brier_tolerance
    reason = (f"on {len(rows):,} rows neither model was fitted on: AUC {cand['auc']:.4f} vs champion "
              f"{champ['auc']:.4f} (tolerance {rule.auc_tolerance}), Brier {cand['brier']:.4f} vs "
              f"{champ['brier']:.4f} (tolerance {rule.brier_tolerance})")
    return {**base, "promote": bool(auc_ok and brier_ok), "reason": reason, "candidate": _brief(cand),
            "champion": _brief(champ)}


def _brief(m: dict) -> dict:
    return {k: m[k] for k in ("auc", "brier", "ece", "accuracy", "rows")}


def validate(url: str, settings: Settings, version: int, rule: PromotionRule | None = None) -> dict:
    """Compare candidate ``version`` with the champion on its recorded hold-out (rows neither model
    was fitted on); promote it if it is not worse, else mark it rejected.  One transaction."""
    rule = rule or PromotionRule.from_settings(settings)
    key = signing.signing_key(settings)
    try:
        with db.transaction(url) as conn:
            info = registry.show(conn, version)
            if info["status"] != "candidate":
                raise ChurnDBError(f"model {version} is {info['status']}, not a candidate")
            _, candidate, _ = registry.load(conn, key, version)
            spec = stored_spec(info["spec"])
            data = load_training_set(url, spec)
            _, test, _ = split(data, spec)
            decision = compare_with_champion(conn, key, candidate, test, spec.threshold, rule,
                                             registry.model_source(conn, version))
            decide(conn, version, decision, "validated against the champion: ")
    except psycopg.Error as exc:
        raise db.as_churndb_error(exc) from None
    return decision


def decide(conn: psycopg.Connection, version: int, decision: dict, why: str) -> str:
    """Record the comparison with the candidate, then promote it or reject it; returns its status."""
    registry.record_decision(conn, version, decision)
    if decision["promote"]:
        registry.promote(conn, version, why + decision["reason"], decision)
        return "champion"
    registry.reject(conn, version)
    return "rejected"
