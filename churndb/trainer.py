"""``churndb train``: load, split, fit, measure, register; optionally promote if not worse."""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass

import psycopg

from . import db, progress, registry, signing
from .config import Settings
from .errors import ChurnDBError
from .metrics import classification_metrics
from .sqlfiles import query
from .training import (LABEL, TrainingSpec, feature_spec, fit, library_versions, load_training_set, spec_dict,
                       split, trained_on)


@dataclass(frozen=True)
class PromotionRule:
    """A candidate replaces the champion only if it is not worse on ranking and on calibration."""
    auc_tolerance: float = 0.005
    brier_tolerance: float = 0.002


MIN_COMPARISON_ROWS = 200


def compare_with_champion(conn, key, candidate, test, threshold: float, rule: PromotionRule) -> dict:
    """Both models on the same hold-out rows, none of which either model was fitted on."""
    champion = conn.execute(query("champion_version")).fetchone()
    if not champion:
        y = test[LABEL].to_numpy()
        cand = classification_metrics(y, candidate.predict_proba(test)[:, 1], threshold)
        return {"promote": True, "reason": "no champion yet", "candidate": _brief(cand), "champion": None}
    version, model, _ = registry.load(conn, key, champion[0])
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


def train(url: str, settings: Settings, spec: TrainingSpec, promote_if_better: bool = False,
          rule: PromotionRule = PromotionRule()) -> dict:
    started = time.perf_counter()
    key = signing.signing_key(settings)
    data = load_training_set(url, spec)
    steps = 3 * (spec.hyperparameters["cv_folds"] + 1) + 1  # base learners x (folds + full fit) + meta
    with progress.bar(steps, "training", unit="fits") as bar:
        def report(stage: str) -> None:
            bar.set_description(stage)
            bar.update(1)

        model, metrics, training, test = fit(data, spec, report)
    training["seconds"] = round(time.perf_counter() - started, 2)
    try:
        with db.transaction(url) as conn:
            features = {**feature_spec(model), "baseline": training.pop("baseline")}
            version = registry.register(conn, key, model, spec=spec_dict(spec), feature_spec=features,
                                        training=training, metrics=metrics, library_versions=library_versions())
            decision = None
            status = "candidate"
            if promote_if_better:
                decision = compare_with_champion(conn, key, model, test, spec.threshold, rule)
                conn.execute(query("record_training_decision"),
                             {"decision": json.dumps(decision), "model_version": version})
                if decision["promote"]:
                    registry.promote(conn, version, "train --promote-if-better: " + decision["reason"], decision)
                    status = "champion"
                else:
                    conn.execute(query("set_model_status"), {"status": "rejected", "model_version": version})
                    status = "rejected"
    except psycopg.Error as exc:
        raise db.as_churndb_error(exc) from None
    headline = {k: metrics[k] for k in ("auc", "accuracy", "precision", "recall", "f1", "brier", "ece",
                                         "top_decile_lift", "top_decile_capture", "threshold")}
    return {"model_version": version, "status": status, "metrics": headline, "confusion_matrix": metrics["confusion_matrix"],
            "base_learners": metrics["base_learners"], "training": training, "decision": decision,
            "seconds": round(time.perf_counter() - started, 2)}


def stored_spec(spec: dict) -> TrainingSpec:
    """The TrainingSpec a model version was trained with (as stored in model_versions.spec)."""
    values = dict(spec)
    for key in ("start", "end"):
        values[key] = dt.date.fromisoformat(values[key]) if values.get(key) else None
    return TrainingSpec(**values)


def validate(url: str, settings: Settings, version: int, rule: PromotionRule = PromotionRule()) -> dict:
    """Compare candidate ``version`` with the champion on its recorded hold-out (rows neither model
    was fitted on); promote it if it is not worse, else mark it rejected.  One transaction."""
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
            decision = compare_with_champion(conn, key, candidate, test, spec.threshold, rule)
            conn.execute(query("record_training_decision"),
                         {"decision": json.dumps(decision), "model_version": version})
            if decision["promote"]:
                registry.promote(conn, version, "validated against the champion: " + decision["reason"], decision)
            else:
                conn.execute(query("set_model_status"), {"status": "rejected", "model_version": version})
    except psycopg.Error as exc:
        raise db.as_churndb_error(exc) from None
    return decision


def describe(result: dict) -> list[str]:
    """Human lines for the train command."""
    m, t = result["metrics"], result["training"]
    cm = result["confusion_matrix"]
    lines = [
        f"model {result['model_version']} ({result['status']}) trained on {t['rows_train']:,} rows from {t['source']}; "
        f"measured on {t['rows_test']:,} hold-out rows never used in fitting ({t['split']})",
        *([f"  a stratified sample of {t['sample']['rows']:,} of {t['sample']['drawn_from']:,} labelled rows, "
           "drawn in the database"] if t.get("sample") else []),
        f"  AUC {m['auc']:.4f}  accuracy {m['accuracy']:.4f}  precision {m['precision']:.4f}  recall {m['recall']:.4f}  "
        f"F1 {m['f1']:.4f}  (threshold {m['threshold']})",
        f"  Brier {m['brier']:.4f}  ECE {m['ece']:.4f}  top-decile lift {m['top_decile_lift']:.2f}  "
        f"capture {m['top_decile_capture']:.1%}",
        f"  confusion matrix: TN {cm['tn']:,}  FP {cm['fp']:,}  FN {cm['fn']:,}  TP {cm['tp']:,}",
    ]
    for name, b in result["base_learners"].items():
        lines.append(f"  {name:<14} AUC {b['auc']:.4f}  Brier {b['brier']:.4f}  ECE {b['ece']:.4f}")
    if result["decision"]:
        lines.append(f"  promotion: {'promoted' if result['decision']['promote'] else 'not promoted'} — "
                     f"{result['decision']['reason']}")
    lines.append(f"  {result['seconds']:.1f}s")
    return lines


