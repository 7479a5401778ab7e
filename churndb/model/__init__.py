"""Pure churn logic: the telecom layout, features, the ensemble and its model object, reason codes,
drift, metrics, ROI, policy bands, the hold-out split and the synthetic generator.

numpy / pandas / scikit-learn (and the boosting libraries) only: never psycopg, never ``store``."""
