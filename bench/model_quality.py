"""Model benchmark (run on demand, not a test): quality against the oracle, speed against sklearn.

    .venv/bin/python bench/model_quality.py [--rows 25000] [--independent 100000]

Quality: the synthetic generator's churn mechanism is known, so the oracle AUC
(AUC of the true probabilities) on an independent sample is the ceiling.  The
trained model's AUC on that sample must be within 0.015 of it, and the hold-out
AUC churndb reports must be within 0.02 of the independent AUC.

Speed: churndb's training (feature pipeline + StackedEnsemble) against
sklearn's plain StackingClassifier with the same learners, same rows, same
threads, measured in one run; the ratio is printed.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.ensemble import StackingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from churndb.model.ensemble import base_learners
from churndb.model.metrics import expected_calibration_error
from churndb.model.sample import generate, true_churn_probability
from churndb.training.fit import evaluate, fit
from churndb.training.spec import LABEL, TrainingSet, TrainingSpec
from churndb.model import telecom


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=25_000)
    parser.add_argument("--independent", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    frame = generate(args.rows, seed=args.seed).rename(columns={telecom.LABEL: LABEL})
    data = TrainingSet(frame, list(telecom.CATEGORICAL), list(telecom.NUMERIC), "synthetic", 0, [])
    spec = TrainingSpec(seed=args.seed)

    t0 = time.perf_counter()
    model, metrics, training, _ = fit(data, spec)
    churndb_seconds = time.perf_counter() - t0

    independent = generate(args.independent, seed=args.seed + 1000).rename(columns={telecom.LABEL: LABEL})
    y = independent[LABEL].to_numpy()
    oracle_auc = roc_auc_score(y, true_churn_probability(independent))
    independent_metrics = evaluate(model, independent, spec.threshold)

    # sklearn's own StackingClassifier, same learners and threads, on the same training rows.
    train_rows = frame.sample(frac=1 - spec.test_size, random_state=args.seed)
    matrix = model.matrix(train_rows)
    plain = StackingClassifier(base_learners(spec.hyperparameters, spec.seed), final_estimator=LogisticRegression(max_iter=1000),
                               cv=StratifiedKFold(5, shuffle=True, random_state=spec.seed), stack_method="predict_proba")
    t0 = time.perf_counter()
    plain.fit(matrix, train_rows[LABEL].to_numpy())
    plain_seconds = time.perf_counter() - t0
    plain_p = plain.predict_proba(model.matrix(independent))[:, 1]

    gap_oracle = oracle_auc - independent_metrics["auc"]
    gap_reported = abs(metrics["auc"] - independent_metrics["auc"])
    print(f"rows: {args.rows:,} training file ({training['rows_train']:,} fitted, {training['rows_test']:,} hold-out); "
          f"independent sample {args.independent:,}")
    print("| measure | value | target |")
    print("| --- | --- | --- |")
    print(f"| oracle AUC (true probabilities, independent sample) | {oracle_auc:.4f} | |")
    print(f"| model AUC on the independent sample | {independent_metrics['auc']:.4f} | within 0.015 of oracle: "
          f"{'met' if gap_oracle <= 0.015 else 'NOT met'} (gap {gap_oracle:.4f}) |")
    print(f"| reported hold-out AUC | {metrics['auc']:.4f} | within 0.02 of independent: "
          f"{'met' if gap_reported <= 0.02 else 'NOT met'} (gap {gap_reported:.4f}) |")
    print(f"| hold-out ECE (10 bins) | {metrics['ece']:.4f} | <= 0.03: {'met' if metrics['ece'] <= 0.03 else 'NOT met'} |")
    print(f"| independent-sample ECE | {independent_metrics['ece']:.4f} | |")
    print(f"| plain StackingClassifier AUC / ECE (independent) | {roc_auc_score(y, plain_p):.4f} / "
          f"{expected_calibration_error(y, plain_p):.4f} | |")
    print(f"| churndb training seconds (incl. features + hold-out metrics) | {churndb_seconds:.1f} | |")
    print(f"| plain StackingClassifier seconds (fit only) | {plain_seconds:.1f} | |")
    ratio = churndb_seconds / plain_seconds
    print(f"| time ratio churndb / plain | {ratio:.2f} | <= 1.0: {'met' if ratio <= 1.0 else 'NOT met'} |")
    assert np.isfinite(ratio)


if __name__ == "__main__":
    main()
