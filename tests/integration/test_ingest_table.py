"""Any operator's export loads into its own typed table, safely named."""

import psycopg
import pytest

OPERATOR_FILE = (
    "\ufeffCustomer ID,Monthly Bill,Tenure (months),Plan,Churned?\r\n"
    "1,10.5,3,Gold,Yes\r\n"
    "2,,5,Silver,No\r\n"
    "3,abc,7,Gold,No\r\n"
    "4,12,,\"Plat, inum\",maybe\r\n"
    "5,11,4,Gold,Yes\r\n"
    ",3,3,x,No\r\n"
    "6,7.25,1,\"it's; DROP TABLE churndb.ingest_batches;--\",no\r\n"
    "7,8,2,Gold,\r\n"
    "5,9,9,Gold,No\r\n"
)


def test_operator_export_loads_typed_with_quarantine(cli, conn, write_csv):
    res = cli("ingest", write_csv(OPERATOR_FILE), "--table", "operator_export",
              "--id-column", "Customer ID", "--label-column", "Churned?", "--json")
    assert res.code == 0, res.err
    out = res.json
    assert out["rows_in"] == 9 == out["rows_loaded"] + out["rows_rejected"]
    columns = dict(conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'churndb_import' AND table_name = 'operator_export'").fetchall())
    assert columns == {"customer_id": "bigint", "monthly_bill": "double precision", "tenure_months": "bigint",
                       "plan": "text", "churned": "boolean"}
    rows = dict(conn.execute("SELECT customer_id, churned FROM churndb_import.operator_export").fetchall())
    assert rows == {1: True, 2: False, 6: False}
    reasons = dict(conn.execute("SELECT line_number, reason FROM rejected_rows WHERE batch_id = %s",
                                (out["batch_id"],)).fetchall())
    assert "not a number" in reasons[4]            # text in a numeric column
    assert "not a churn label" in reasons[5]       # 'maybe'
    assert "Customer ID is empty" in reasons[7]
    assert "not a churn label" in reasons[9]       # blank label
    assert "appears more than once" in reasons[6] and "appears more than once" in reasons[10]
    assert conn.execute("SELECT count(*) FROM ingest_batches").fetchone()[0] == 1
    assert out["labels_loaded"] == 3


@pytest.mark.parametrize("name", ['x"; DROP TABLE churndb.ingest_batches; --', "Robert Tables", "1abc", "", "a" * 64])
def test_unsafe_table_names_are_refused(cli, conn, write_csv, name):
    res = cli("ingest", write_csv(OPERATOR_FILE), "--table", name, "--id-column", "Customer ID")
    assert res.code == 1 and "not a valid table name" in res.err
    assert conn.execute("SELECT to_regclass('churndb.ingest_batches') IS NOT NULL").fetchone()[0]


def test_hostile_column_names_are_quoted_not_executed(cli, conn, write_csv):
    text = 'id,"x"" int); DROP TABLE churndb.ingest_batches; --"\n1,2\n2,3\n'
    res = cli("ingest", write_csv(text), "--table", "hostile", "--id-column", "id", "--json")
    assert res.code == 0, res.err
    assert conn.execute("SELECT count(*) FROM churndb_import.hostile").fetchone()[0] == 2
    assert conn.execute("SELECT count(*) FROM ingest_batches").fetchone()[0] == 1


def test_missing_id_column_and_layout_change_are_clear_errors(cli, conn, write_csv):
    res = cli("ingest", write_csv(OPERATOR_FILE), "--table", "t1", "--id-column", "cust")
    assert res.code == 1 and "missing required column" in res.err and "cust" in res.err
    assert cli("ingest", write_csv("id,a\n1,2\n"), "--table", "t2", "--id-column", "id").code == 0
    res = cli("ingest", write_csv("id,b\n1,x\n"), "--table", "t2", "--id-column", "id")
    assert res.code == 1 and "already exists with other columns" in res.err


def test_import_table_rows_are_replaced_by_a_newer_file(cli, conn, write_csv):
    assert cli("ingest", write_csv("id,spend\n1,2.5\n2,3\n"), "--table", "t3", "--id-column", "id").code == 0
    assert cli("ingest", write_csv("id,spend\n2,4.5\n3,1\n"), "--table", "t3", "--id-column", "id").code == 0
    assert dict(conn.execute("SELECT id, spend FROM churndb_import.t3").fetchall()) == {1: 2.5, 2: 4.5, 3: 1.0}
    with pytest.raises(psycopg.errors.UndefinedTable):
        conn.execute("SELECT * FROM churndb.t3")
