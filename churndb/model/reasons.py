"""Reason codes that explain the published probability: the stacked ensemble's own log-odds.

The meta-learner is a logistic regression on the members' log-odds, so the published log-odds are

    L = b + w_xgb * logit(p_xgb) + w_rf * logit(p_rf) + w_lgb * logit(p_lgb)

and any additive split of each member's log-odds over the features carries through exactly:
``contribution_j = sum_m w_m * phi_mj`` and ``L = base + sum_j contribution_j`` for every customer
(``test_reasons.py`` checks the sum).  Each member's split is its trees' *path attribution* (Saabas):
along the path a row takes through a tree, each split's change of the node value is credited to the
split's feature, summed over the trees.  All three members' node values are log-odds (the forest is
XGBoost's random-forest mode), so each member's split of ``logit(p)`` is exact.  XGBoost attributes its
two members itself, in C++; LightGBM's leaves are looked up in tables built once per loaded model.

Path attribution is the approximation: it is not the Shapley value (TreeSHAP) of each feature, but
it is additive, exact for the published number and costs one leaf look-up per tree — in this
repository's benchmark (``bench/reasons_bench.py``, figures in the README) it is two orders of
magnitude faster than exact TreeSHAP and picks mostly the same top three features.
``method="treeshap"`` uses the libraries' exact TreeSHAP for every member instead: the ensemble's
TreeSHAP values of its log-odds (Shapley values add up through the linear meta-learner).

Models trained before the forest became XGBoost's (a scikit-learn ``RandomForestClassifier`` member,
probabilities in its nodes) are still explained: that forest's split of ``p_rf - p_root`` is mapped
onto ``logit(p_rf) - logit(p_root)`` in proportion, by path attribution in either method.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.ensemble._forest import BaseForest

from .features import meaning
from .predictor import ChurnModel

TOP_N = 3
_EPS = 1e-6  # the ensemble's clipping of member probabilities before the logit
_ROWS = 20_000  # rows attributed at a time (memory: rows x features per member)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


class _LeafTable:
    """A member's trees as one table: a row per leaf, the path attribution of the leaf's value over the
    features.  A customer's split is the sum of the rows of the leaves it lands in, one per tree: a
    sparse (customers x leaves, a 1 per tree) times dense (leaves x features) product, in C."""

    def __init__(self, trees: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]], n_features: int):
        # each tree: (parent, feature, value, leaves): parent of each node (-1 for the root), its split
        # feature, its value, and for each leaf id the library's leaf prediction returns, that leaf's node
        # (-1 for an id that is not a leaf)
        tables, lookups, self.roots = [], [], []
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
            leaves = np.asarray(leaves)
            is_leaf = leaves >= 0
            first = sum(len(t) for t in tables)
            lookups.append(np.where(is_leaf, first + np.cumsum(is_leaf) - 1, -1))
            tables.append(per_node[leaves[is_leaf]])
            self.roots.append(float(value[np.flatnonzero(~has_parent)[0]]))
        self.table = np.vstack(tables)
        self.lookup = np.concatenate(lookups)                      # (tree's first id + leaf id) -> row
        self.id_offsets = np.cumsum([0] + [len(x) for x in lookups[:-1]])

    def attribute(self, leaf_ids: np.ndarray) -> np.ndarray:
        """``leaf_ids``: rows x trees of the library's leaf ids -> rows x features, summed over trees."""
        from scipy import sparse

        rows, trees = leaf_ids.shape
        columns = self.lookup[(leaf_ids.astype(np.int64) + self.id_offsets).ravel()]
        onehot = sparse.csr_matrix((np.ones(rows * trees), columns, np.arange(0, rows * trees + 1, trees)),
                                   shape=(rows, len(self.table)))
        return onehot @ self.table


def _forest_table(forest, n_features: int) -> _LeafTable:
    """A scikit-learn forest: node values are the share of churners; leaf ids are node ids (``apply``)."""
    trees = []
    for est in forest.estimators_:
        t = est.tree_
        parent = np.full(t.node_count, -1)
        internal = np.flatnonzero(t.children_left >= 0)
        parent[t.children_left[internal]] = internal
        parent[t.children_right[internal]] = internal
        counts = t.value[:, 0, :]
        value = counts[:, 1] / counts.sum(axis=1)
        nodes = np.arange(t.node_count)
        trees.append((parent, t.feature, value, np.where(t.children_left < 0, nodes, -1)))
    return _LeafTable(trees, n_features)


def _lightgbm_table(booster, n_features: int) -> _LeafTable:
    """LightGBM: node values are log-odds; leaf ids are leaf numbers (``pred_leaf``)."""
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
    """Leaf tables of the members the libraries cannot attribute themselves, built once per loaded model
    (not stored in the artifact): LightGBM's (it has TreeSHAP only), and a scikit-learn forest's in
    models trained before the forest became XGBoost's random-forest mode."""
    cached = getattr(model.stack, "_reason_tables", None)
    if cached is None:
        n = len(model.feature_names)
        cached = {}
        for name in model.member_names:
            member = model.member(name)
            if isinstance(member, BaseForest):
                cached[name] = _forest_table(member, n)
            elif hasattr(member, "booster_"):
                cached[name] = _lightgbm_table(member.booster_, n)
        model.stack._reason_tables = cached
    return cached


def _xgboost_split(member, data, method: str) -> tuple[np.ndarray, np.ndarray]:
    """XGBoost's own attribution of its log-odds (a boosted model or a random forest alike), in C++ over
    all cores: path attribution (``approx_contribs``; measured as fast as a leaf table for the boosted
    member and faster for the forest's deep trees, whose table would not stay in cache) or exact TreeSHAP.
    ``data``: the block as an ``xgboost.DMatrix``, built once for both XGBoost members (~1.2 ms per 1,000
    rows each time)."""
    contrib = member.get_booster().predict(data, pred_contribs=True, approx_contribs=(method == "path"))
    return contrib[:, -1], contrib[:, :-1]


def _lightgbm_split(member, table: _LeafTable, matrix: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    booster = member.booster_
    if method == "path":
        leaves = booster.predict(matrix, pred_leaf=True).reshape(len(matrix), len(table.roots))
        return np.full(len(matrix), sum(table.roots)), table.attribute(leaves)
    contrib = booster.predict(matrix, pred_contrib=True)
    return contrib[:, -1], contrib[:, :-1]


def _sklearn_forest_split(member, table: _LeafTable, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A scikit-learn forest's node values are probabilities: its split of ``p_rf - p_root`` is mapped
    onto ``logit(p_rf) - logit(p_root)`` in proportion (scikit-learn has no TreeSHAP)."""
    nodes = member.apply(matrix)
    shares = table.attribute(nodes) / nodes.shape[1]           # p_rf - p_root, per feature
    p_root = float(np.mean(table.roots))
    p_rf = p_root + shares.sum(axis=1)
    gap = p_rf - p_root
    slope = np.where(np.abs(gap) > 1e-9, (_logit(p_rf) - _logit(np.full(len(p_rf), p_root))) / np.where(
        np.abs(gap) > 1e-9, gap, 1.0), 1.0 / (p_root * (1 - p_root)))
    return np.full(len(matrix), _logit(np.array([p_root]))[0]), shares * slope[:, None]


def member_contributions(model: ChurnModel, matrix: np.ndarray, method: str = "path") -> dict[str, tuple]:
    """Each member's (base, rows x features) split of its own log-odds."""
    from xgboost import DMatrix, XGBModel

    tables = _tables(model)
    out = {}
    if not len(matrix):
        return {name: (np.zeros(0), np.zeros((0, matrix.shape[1]))) for name in model.member_names}
    data = None  # one DMatrix for every XGBoost member, built when the first one needs it
    for name in model.member_names:
        member = model.member(name)
        if isinstance(member, XGBModel):
            data = DMatrix(matrix) if data is None else data
            out[name] = _xgboost_split(member, data, method)
        elif isinstance(member, BaseForest):
            out[name] = _sklearn_forest_split(member, tables[name], matrix)
        else:
            out[name] = _lightgbm_split(member, tables[name], matrix, method)
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


@dataclass
class Ranked:
    """Each row's ``top_n`` features by contribution, strongest first: feature index, contribution and the
    feature's value (both rounded to 4 places; value NaN when unknown), and how many of them raise the
    published risk (a prefix: contributions are sorted)."""
    feature: np.ndarray
    contribution: np.ndarray
    value: np.ndarray
    raising: np.ndarray


def ranked(model: ChurnModel, matrix: np.ndarray, top_n: int = TOP_N, method: str = "path") -> Ranked:
    _, contrib = contributions(model, matrix, method)
    order = np.argsort(-contrib, axis=1)[:, :top_n]
    strength = np.take_along_axis(contrib, order, axis=1)
    value = np.take_along_axis(matrix, order, axis=1)
    return Ranked(order, np.round(strength, 4), np.round(value, 4), (strength > 0).sum(axis=1))


def top_reasons(model: ChurnModel, matrix: np.ndarray, top_n: int = TOP_N, method: str = "path") -> list[list[dict]]:
    """For each row, up to ``top_n`` features that raise its published risk most, strongest first."""
    r = ranked(model, matrix, top_n, method)
    labels = [(name, meaning(name)) for name in model.feature_names]
    out = []
    # numbers converted to Python floats a matrix at a time (``tolist``), not one element at a time
    for js, cs, vs, missing, n in zip(r.feature.tolist(), r.contribution.tolist(), r.value.tolist(),
                                      (~np.isfinite(r.value)).tolist(), r.raising.tolist()):
        out.append([{"feature": labels[j][0], "direction": "raises risk", "contribution": c,
                     "value": None if unknown else v, "meaning": labels[j][1]}
                    for j, c, v, unknown in zip(js[:n], cs[:n], vs[:n], missing[:n])])
    return out


def reasons_json(r: Ranked, names: list[str], meanings: list[str],
                 categories: dict[int, list] | None = None) -> list[str]:
    """Each row's raising reasons as the JSON array ``top_reasons`` stores (``top_reasons``' dicts, in
    order), built by Arrow's string kernels instead of a dict and an encoder call per customer.

    ``names`` and ``meanings`` per feature index; ``categories``: for a feature whose value is a
    category code, the category of each code (the value is then that category, as text).  Names and
    categories are encoded by the json module, so any header is safe; an unknown value is null."""
    import json

    import pyarrow as pa
    import pyarrow.compute as pc

    def encoded(values) -> list[str]:
        return [json.dumps(v.item() if isinstance(v, np.generic) else v, ensure_ascii=False) for v in values]

    head = pa.array([f'{{"feature": {n}, "direction": "raises risk", "contribution": ' for n in encoded(names)])
    tail = pa.array([f', "meaning": {m}}}' for m in encoded(meanings)])
    categories = categories or {}
    first_label = np.zeros(len(names), dtype=np.int64)         # feature -> its first entry in ``labels``
    label_count = np.zeros(len(names), dtype=np.int64)
    labels: list[str] = []
    for j, values in categories.items():
        first_label[j], label_count[j] = len(labels), len(values)
        labels.extend(encoded(values))
    is_category = np.zeros(len(names), dtype=bool)
    is_category[list(categories)] = True
    labels_array = pa.array(labels + ["null"], type=pa.string())  # the last entry: no such category
    rows = len(r.raising)
    out = pa.array(["["] * rows, type=pa.string())
    for k in range(r.feature.shape[1]):
        feature, value = r.feature[:, k], r.value[:, k]
        known = np.isfinite(value)
        number = pc.fill_null(pc.cast(pa.array(value, mask=~known), pa.string()), "null")
        code = np.where(known, value, -1).astype(np.int64)
        label = np.where((code >= 0) & (code < label_count[feature]), first_label[feature] + code, len(labels))
        value_text = pc.if_else(pa.array(is_category[feature]), labels_array.take(pa.array(label)), number)
        piece = pc.binary_join_element_wise(head.take(pa.array(feature)),
                                            pc.cast(pa.array(r.contribution[:, k]), pa.string()), ', "value": ',
                                            value_text, tail.take(pa.array(feature)), "")
        if k:
            piece = pc.binary_join_element_wise(", ", piece, "")
        out = pc.binary_join_element_wise(out, pc.if_else(pa.array(r.raising > k), piece, ""), "")
    return pc.binary_join_element_wise(out, "]", "").to_pylist()
