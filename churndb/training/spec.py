"""What a training run is asked for (``TrainingSpec``) and what it trains on (``TrainingSet``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

import pandas as pd

from ..model.ensemble import DEFAULT_HYPERPARAMETERS

LABEL = "label"


@dataclass
class TrainingSpec:
    source: str = "customer_snapshots"
    id_column: str = "customer_id"
    label_column: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    lead_days: int = 0
    horizon_days: int = 90
    test_size: float = 0.2
    threshold: float = 0.5
    seed: int = 42
    sample: int | None = None      # train on a stratified sample of about this many labelled rows
    hyperparameters: dict = field(default_factory=lambda: {k: (dict(v) if isinstance(v, dict) else v)
                                                            for k, v in DEFAULT_HYPERPARAMETERS.items()})


@dataclass
class TrainingSet:
    frame: pd.DataFrame            # id, [as_of_date], features..., label
    categorical: list[str]
    numeric: list[str]
    source: str
    unlabelled_rows: int
    dates: list[str]
    sampled_from: int | None = None  # labelled rows the sample was drawn from
    identifiers: list[str] = field(default_factory=list)  # near-unique text columns kept out of the model


def spec_dict(spec: TrainingSpec) -> dict:
    out = asdict(spec)
    for key in ("start", "end"):
        out[key] = out[key].isoformat() if out[key] else None
    return out


def stored_spec(spec: dict) -> TrainingSpec:
    """The TrainingSpec a model version was trained with (as stored in model_versions.spec)."""
    values = dict(spec)
    for key in ("start", "end"):
        values[key] = dt.date.fromisoformat(values[key]) if values.get(key) else None
    return TrainingSpec(**values)
