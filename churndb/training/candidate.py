"""``churndb train``: load, split, fit, measure, register a signed candidate; optionally promote it
if it is not worse than the champion."""

from __future__ import annotations

import time

import psycopg

from ..base import progress
from ..base.config import Settings
from ..store import db, registry, signing
from .dataset import load_training_set
from .fit import feature_spec, fit, library_versions
from .promotion import PromotionRule, compare_with_champion, decide
from .spec import TrainingSpec, spec_dict


def train(url: str, settings: Settings, spec: TrainingSpec, promote_if_better: bool = False,
          rule: PromotionRule | None = None) -> dict:
    started = time.perf_counter()
    rule = rule or PromotionRule.from_settings(settings)
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
                decision = compare_with_champion(conn, key, model, test, spec.threshold, rule,
                                                 registry.model_source(conn, version))
                status = decide(conn, version, decision, "train --promote-if-better: ")
    except psycopg.Error as exc:
        raise db.as_churndb_error(exc) from None
    headline = {k: metrics[k] for k in ("auc", "accuracy", "precision", "recall", "f1", "brier", "ece",
                                         "top_decile_lift", "top_decile_capture", "threshold")}
    return {"model_version": version, "status": status, "metrics": headline, "confusion_matrix": metrics["confusion_matrix"],
            "base_learners": metrics["base_learners"], "training": training, "decision": decision,
            "seconds": round(time.perf_counter() - started, 2)}


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


