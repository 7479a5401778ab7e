"""Reason-code benchmark (run on demand, not a test): what explains the published probability, and at what cost.

    .venv/bin/python bench/reasons_bench.py [--train 30000] [--rows 20000] [--exact-rows 2000]

Trains the ensemble on synthetic customers, then on an independent sample measures:

* seconds per 100,000 customers for: the ensemble's path attribution (today's reason codes), the
  ensemble with the libraries' exact TreeSHAP for every member (its TreeSHAP values: Shapley values add
  up through the linear meta-learner), and the former reason codes (LightGBM's TreeSHAP alone);
* additivity: max |base + sum of contributions - published log-odds| (must be ~1e-6, float32);
* agreement with the ensemble's TreeSHAP values (the reference): how often the top reason is
  the same, and the average share of the top three features in common — for today's codes and for
  the former LightGBM-only codes.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from churndb.model import reasons, telecom
from churndb.model.ensemble import DEFAULT_HYPERPARAMETERS
from churndb.model.predictor import ChurnModel
from churndb.model.sample import generate


def top3(contrib: np.ndarray) -> np.ndarray:
    return np.argsort(-contrib, axis=1)[:, :3]


def agreement(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    ta, tb = top3(a), top3(b)
    return float((ta[:, 0] == tb[:, 0]).mean()), float(np.mean([len(set(x) & set(y)) / 3 for x, y in zip(ta, tb)]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=int, default=30_000)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--exact-rows", type=int, default=2_000)
    args = parser.parse_args()
    frame = generate(args.train, seed=1)
    model = ChurnModel.build(telecom.CATEGORICAL, telecom.NUMERIC, DEFAULT_HYPERPARAMETERS, 42)
    model.fit(frame, frame["is_churn"].to_numpy())
    model.set_threads()
    matrix = model.matrix(generate(args.rows, seed=2))
    exact = matrix[:args.exact_rows]

    t = time.perf_counter()
    reasons._tables(model)
    build = time.perf_counter() - t
    t = time.perf_counter()
    base, path = reasons.contributions(model, matrix)
    path_s = time.perf_counter() - t
    t = time.perf_counter()
    _, shap = reasons.contributions(model, exact, method="treeshap")
    shap_s = time.perf_counter() - t
    t = time.perf_counter()
    lgb_only = model.member("lightgbm").booster_.predict(exact, pred_contrib=True)[:, :-1]
    lgb_s = time.perf_counter() - t

    p = model.probability(matrix)
    logit = np.log(p / (1 - p))
    per = lambda seconds, rows: seconds * 100_000 / rows  # noqa: E731
    print(f"rows {args.rows:,} (exact methods on {args.exact_rows:,}); tables built once per model in {build:.2f}s")
    print(f"seconds per 100k customers: ensemble path attribution {per(path_s, len(matrix)):.1f}  "
          f"ensemble with exact TreeSHAP {per(shap_s, len(exact)):.1f}  LightGBM TreeSHAP alone {per(lgb_s, len(exact)):.1f}")
    print(f"additivity: max |base + sum - published log-odds| = {np.abs(base + path.sum(axis=1) - logit).max():.2e}")
    top1, overlap = agreement(path[:len(exact)], shap)
    print(f"path vs ensemble TreeSHAP: same top reason {top1:.1%}, top-3 overlap {overlap:.1%}")
    top1, overlap = agreement(lgb_only, shap)
    print(f"LightGBM alone vs ensemble TreeSHAP: same top reason {top1:.1%}, top-3 overlap {overlap:.1%}")


if __name__ == "__main__":
    main()
