-- Statements run by churndb.training.backtest: time-ordered evaluations.

-- name: insert_backtest
INSERT INTO churndb.model_backtests (created_by, spec, folds, summary)
VALUES (%(actor)s, %(spec)s, %(folds)s, %(summary)s)
RETURNING backtest_id;
