"""churndb backtest: train on snapshots up to a date, test on the next, per fold (issue 17)."""

import datetime as dt

from churndb.model.sample import write_sample


def test_three_snapshot_dates_give_two_stored_folds(cli, conn, tmp_path):
    for i, day in enumerate((dt.date(2026, 7, 31), dt.date(2026, 8, 31), dt.date(2026, 9, 30))):
        path = tmp_path / f"s{i}.csv"
        write_sample(1_500, path, seed=50 + i)
        assert cli("ingest", path, "--as-of", day.isoformat()).code == 0
    res = cli("backtest", "--json")
    assert res.code == 0, res.err
    out = res.json
    assert [(f["train_until"], f["test_date"]) for f in out["folds"]] == [("2026-07-31", "2026-08-31"),
                                                                         ("2026-08-31", "2026-09-30")]
    assert [f["rows_train"] for f in out["folds"]] == [1_500, 3_000] and {f["rows_test"] for f in out["folds"]} == {1_500}
    assert all(0.6 < f["auc"] <= 1 and 0 < f["brier"] < 0.25 and f["top_decile_lift"] > 1 for f in out["folds"])
    aucs = [f["auc"] for f in out["folds"]]
    assert out["summary"]["auc"]["min"] == min(aucs) and out["summary"]["auc"]["max"] == max(aucs)
    stored = conn.execute("SELECT folds FROM model_backtests WHERE backtest_id = %s", (out["backtest_id"],)).fetchone()[0]
    assert stored == out["folds"]
    text = cli("backtest", "--folds", "1").out
    assert "tested on 2026-09-30" in text and "tested on 2026-08-31" not in text


def test_one_labelled_date_is_refused_in_one_line(cli, conn, tmp_path):
    path = tmp_path / "one.csv"
    write_sample(800, path, seed=3)
    assert cli("ingest", path, "--as-of", "2026-09-30").code == 0
    res = cli("backtest")
    assert res.code == 1 and len(res.err.strip().splitlines()) == 1 and "at least two dates" in res.err, res.err
    assert conn.execute("SELECT count(*) FROM model_backtests").fetchone()[0] == 0
