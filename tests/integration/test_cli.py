"""CLI conventions: JSON last line, exit codes, one-line errors, no secrets printed."""

import json

from churndb.store import migrate


def test_init_is_idempotent_and_reports_the_revision(cli, db_url):
    for _ in range(2):
        res = cli("init", "--json")
        assert res.code == 0, res.err
        assert res.json["schema_revision"] == migrate.head_revision()


def test_json_output_is_the_last_stdout_line(cli, db_url, tmp_path):
    res = cli("sample", "--rows", "10", "--out", tmp_path / "s.csv", "--seed", "3", "--json")
    assert res.code == 0
    assert json.loads(res.out.strip().splitlines()[-1]) == {
        **res.json, "rows": 10, "path": str(tmp_path / "s.csv"), "seed": 3}
    res = cli("ingest", tmp_path / "s.csv", "--json")
    assert res.code == 0 and len(res.out.strip().splitlines()) == 1
    status = cli("status", "--json").json
    assert status["rows_in"] == 10 and status["snapshots"][0]["customers"] == 10


def test_unreachable_database_is_one_line_without_the_password(cli, monkeypatch):
    monkeypatch.setenv("CHURNDB_DATABASE_URL", "postgresql://churn:s3cret-pw@127.0.0.1:1/churndb")
    monkeypatch.setenv("CHURNDB_CONNECT_TIMEOUT", "2")
    res = cli("init")
    assert res.code == 1
    assert len(res.err.strip().splitlines()) == 1 and "Traceback" not in res.err
    assert "s3cret-pw" not in res.err + res.out
    res = cli("status")
    assert res.code == 1 and "cannot connect" in res.err and "s3cret-pw" not in res.err


def test_unwritable_home_is_one_line(cli, monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.delenv("CHURNDB_DATABASE_URL", raising=False)
    monkeypatch.setenv("CHURNDB_HOME", str(blocker / "home"))
    res = cli("status")
    assert res.code == 1 and "CHURNDB_HOME" in res.err and len(res.err.strip().splitlines()) == 1


def test_demo_runs_end_to_end(cli, db_url, conn):
    res = cli("demo", "--json")
    assert res.code == 0, res.err
    out = res.json
    assert out["ingest"]["rows_in"] == out["ingest"]["rows_loaded"] + out["ingest"]["rows_rejected"]
    assert conn.execute("SELECT count(*) FROM customer_snapshots").fetchone()[0] == out["ingest"]["rows_loaded"]
