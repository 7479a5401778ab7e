"""Reason codes that explain the published probability: the stacked ensemble's own log-odds.

The meta-learner is a logistic regression on the members' log-odds, so the published log-odds are

    L = b + w_xgb * logit(p_xgb) + w_rf * logit(p_rf) + w_lgb * logit(p_lgb)

and any additive split of each member's log-odds over the features carries through exactly:
``contribution_j = sum_m w_m * phi_mj`` and ``L = base + sum_j contribution_j`` for every customer
(``test_reasons.py`` checks the sum).  Each member's split is its trees' *path attribution* (Saabas):
along the path a row takes through a tree, each split's change of the node value is credited to the
split's feature, summed over the trees.  For the boosted members (XGBoost, LightGBM) node values are
log-odds, so the split of ``logit(p)`` is exact; the forest's are probabilities, and its split of
``p_rf - p_root`` is mapped onto ``logit(p_rf) - logit(p_root)`` in proportion.

Path attribution is the approximation: it is not the Shapley value (TreeSHAP) of each feature, but
it is additive, exact for the published number and costs one leaf look-up per tree — in this
repository's benchmark (``bench/reasons_bench.py``, figures in the README) it is two orders of
magnitude faster than exact TreeSHAP and picks mostly the same top three features.
``method="treeshap"`` uses the libraries' exact TreeSHAP for the boosted members instead.
"""

from __future__ import annotations

import numpy as np

from .features import meaning
from .predictor import ChurnModel

TOP_N = 3
_EPS = 1e-6  # the ensemble's clipping of member probabilities before the logit
_ROWS = 20_000  # rows attributed at a time (memory: rows x features per member)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


class _LeafTable:
    """Per tree, for each leaf, the path attribution of the leaf's value over the features."""

    def __init__(self, trees: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]], n_features: int):
        # each tree: (parent, feature, value, leaves): parent (-1 for the root), split feature of each
        # node, node value, and the node ids of the leaves in the order the library numbers them
        self.tables, self.roots = [], []
        for parent, feature, value, leaves in trees:
            parent, feature, value = np.asarray(parent), np.asarray(feature), np.asarray(value, dtype=float)
            depth = np.zeros(len(parent), dtype=int)
            has_parent = parent >= 0
            for _ in range(len(parent)):  # depth of every node, without assuming an order
                new = np.where(has_parent, depth[np.maximum(parent, 0)] + 1, 0)
                if np.array_equal(new, depth):
                    break
                depth = new
            per_node = np.zeros((len(parent), n_features))
            for d in range(1, depth.max() + 1):  # top-down, one level at a time
                nodes = np.flatnonzero(depth == d)
                up = parent[nodes]
                per_node[nodes] = per_node[up]
                per_node[nodes, feature[up]] += value[nodes] - value[up]
            self.tables.append(per_node[np.asarray(leaves)])
            self.roots.append(float(value[np.flatnonzero(~has_parent)[0]]))

    def attribute(self, leaf_rows: np.ndarray) -> np.ndarray:
        """``leaf_rows``: rows x trees of leaf positions -> rows x features, summed over trees."""
        out = np.zeros((len(leaf_rows), self.tables[0].shape[1]))
        for t, table in enumerate(self.tables):
            out += table[leaf_rows[:, t]]
        return out


def _forest_table(forest, n_features: int) -> tuple[_LeafTable, list[np.ndarray]]:
    trees, positions = [], []
    for est in forest.estimators_:
        t = est.tree_
        parent = np.full(t.node_count, -1)
        internal = np.flatnonzero(t.children_left >= 0)
        parent[t.children_left[internal]] = internal
        parent[t.children_right[internal]] = internal
        counts = t.value[:, 0, :]
        value = counts[:, 1] / counts.sum(axis=1)
        leaves = np.flatnonzero(t.children_left < 0)
        position = np.full(t.node_count, -1)
        position[leaves] = np.arange(len(leaves))
        trees.append((parent, t.feature, value, leaves))
        positions.append(position)
    return _LeafTable(trees, n_features), positions


def _lightgbm_table(booster, n_features: int) -> _LeafTable:
    frame = booster.trees_to_dataframe()
    trees = []
    for _, tree in frame.groupby("tree_index", sort=True):
        ids = {name: i for i, name in enumerate(tree["node_index"])}
        parent = np.array([ids.get(p, -1) if isinstance(p, str) else -1 for p in tree["parent_index"]])
        feature = np.array([int(f.split("_")[-1]) if isinstance(f, str) else -1 for f in tree["split_feature"]])
        value = tree["value"].to_numpy(dtype=float)
        leaf_number = {int(name.split("-L")[-1]): i for name, i in ids.items() if "-L" in name}
        leaves = np.array([leaf_number[k] for k in range(len(leaf_number))]) if leaf_number else np.array([0])
        trees.append((parent, feature, value, leaves))
    return _LeafTable(trees, n_features)


def _tables(model: ChurnModel) -> dict:
    """Built once per loaded model (not stored in the artifact)."""
    cached = getattr(model.stack, "_reason_tables", None)
    if cached is None:
        n = len(model.feature_names)
        forest, positions = _forest_table(model.member("random_forest"), n)
        cached = {"forest": forest, "forest_positions": positions,
                  "lightgbm": _lightgbm_table(model.member("lightgbm").booster_, n)}
        model.stack._reason_tables = cached
    return cached


def member_contributions(model: ChurnModel, matrix: np.ndarray, method: str = "path") -> dict[str, tuple]:
    """Each member's (base, rows x features) split of its own log-odds."""
    import xgboost

    tables = _tables(model)
    out = {}
    xgb = model.member("xgboost").get_booster().predict(xgboost.DMatrix(matrix), pred_contribs=True,
                                                        approx_contribs=(method == "path"))
    out["xgboost"] = (xgb[:, -1], xgb[:, :-1])
    lgb = model.member("lightgbm").booster_
    if method == "path":
        leaves = lgb.predict(matrix, pred_leaf=True).astype(int).reshape(len(matrix), -1)
        out["lightgbm"] = (np.full(len(matrix), sum(tables["lightgbm"].roots)), tables["lightgbm"].attribute(leaves))
    else:
        contrib = lgb.predict(matrix, pred_contrib=True)
        out["lightgbm"] = (contrib[:, -1], contrib[:, :-1])
    forest = model.member("random_forest")
    nodes = forest.apply(matrix)
    rows = np.column_stack([tables["forest_positions"][t][nodes[:, t]] for t in range(nodes.shape[1])])
    shares = tables["forest"].attribute(rows) / nodes.shape[1]           # p_rf - p_root, per feature
    p_root = float(np.mean(tables["forest"].roots))
    p_rf = p_root + shares.sum(axis=1)
    gap = p_rf - p_root
    slope = np.where(np.abs(gap) > 1e-9, (_logit(p_rf) - _logit(np.full(len(p_rf), p_root))) / np.where(
        np.abs(gap) > 1e-9, gap, 1.0), 1.0 / (p_root * (1 - p_root)))
    out["random_forest"] = (np.full(len(matrix), _logit(np.array([p_root]))[0]), shares * slope[:, None])
    return out


def contributions(model: ChurnModel, matrix: np.ndarray, method: str = "path") -> tuple[np.ndarray, np.ndarray]:
    """(base, rows x features): the ensemble's published log-odds = base + the row's contributions."""
    meta = model.stack.final_estimator_
    weights = dict(zip(model.member_names, meta.coef_[0]))
    bases, parts = [], []
    for start in range(0, len(matrix), _ROWS):
        block = matrix[start:start + _ROWS]
        members = member_contributions(model, block, method)
        base = np.full(len(block), float(meta.intercept_[0]))
        part = np.zeros((len(block), matrix.shape[1]))
        for name, (b, c) in members.items():
            base += weights[name] * b
            part += weights[name] * c
        bases.append(base)
        parts.append(part)
    if not parts:
        return np.zeros(0), np.zeros((0, matrix.shape[1]))
    return np.concatenate(bases), np.vstack(parts)


def top_reasons(model: ChurnModel, matrix: np.ndarray, top_n: int = TOP_N, method: str = "path") -> list[list[dict]]:
    """For each row, up to ``top_n`` features that raise its published risk most, strongest first."""
    _, contrib = contributions(model, matrix, method)
    order = np.argsort(-contrib, axis=1)[:, :top_n]
    strength = np.take_along_axis(contrib, order, axis=1)
    value = np.take_along_axis(matrix, order, axis=1)
    labels = [(name, meaning(name)) for name in model.feature_names]
    out = []
    # numbers converted to Python floats a matrix at a time (``tolist``), not one element at a time
    for js, cs, vs, missing, raises in zip(order.tolist(), np.round(strength, 4).tolist(), np.round(value, 4).tolist(),
                                           np.isnan(value).tolist(), (strength > 0).tolist()):
        reasons = []
        for j, c, v, unknown, up in zip(js, cs, vs, missing, raises):
            if not up:
                break
            name, text = labels[j]
            reasons.append({"feature": name, "direction": "raises risk", "contribution": c,
                            "value": None if unknown else v, "meaning": text})
        out.append(reasons)
    return out
