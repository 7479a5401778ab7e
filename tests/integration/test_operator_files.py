"""Operators' own exports (issue 13, the loading and training part): dialects, names as written, no key."""

import numpy as np
import pandas as pd
import pytest

from churndb.model.sample import generate


def _export(n=2_000, seed=8):
    df = generate(n, seed=seed)
    return df, pd.DataFrame({
        "Contrat": df["contract_type"], "Ancienneté (mois)": df["tenure_months"],
        "Montant mensuel": df["monthly_charges"].round(2), "Réclamations": df["num_complaints_3m"],
        "Offre concurrente": np.where(df["received_competitor_offer_flag"] == 1, "OUI", "non"),
        "Résilié": np.where(df["is_churn"] == 1, "VRAI", "FAUX"),
    })


def test_a_semicolon_file_with_decimal_commas_french_booleans_and_no_key_trains_honestly(cli, db_url, conn,
                                                                                        tmp_path):
    df, export = _export()
    text = export.to_csv(index=False, sep=";", decimal=",")
    assert "," in text.splitlines()[1]  # decimal commas really are in the file
    path = tmp_path / "extrait.csv"
    path.write_text("\ufeff" + text.replace("\n", "\r\n"), encoding="utf-8")  # BOM and CRLF, as exported
    res = cli("ingest", path, "--table", "extrait", "--row-ids", "--decimal", ",", "--label-column", "Résilié",
              "--json")
    assert res.code == 0, res.err
    out = res.json
    assert (out["rows_in"], out["rows_loaded"], out["rows_rejected"], out["labels_loaded"]) == (2000, 2000, 0, 2000)
    types = dict(conn.execute("SELECT column_name, data_type FROM information_schema.columns "
                              "WHERE table_schema = 'churndb_import' AND table_name = 'extrait'").fetchall())
    assert types["montant_mensuel"] == "double precision" and types["offre_concurrente"] == "boolean"
    loaded = conn.execute("SELECT sum(montant_mensuel) FROM churndb_import.extrait").fetchone()[0]
    assert loaded == pytest.approx(float(export["Montant mensuel"].sum()), rel=1e-9)
    churners = conn.execute("SELECT count(*) FROM churndb_import.extrait WHERE resilie").fetchone()[0]
    assert churners == int(df["is_churn"].sum())

    res = cli("train", "--source", "extrait", "--id-column", "row_id", "--label-column", "Résilié", "--json")
    assert res.code == 0, res.err
    trained = res.json
    assert trained["training"]["rows_test"] > 300 and trained["training"]["holdout"]["method"] == "stratified-hash"
    assert trained["metrics"]["auc"] > 0.65


@pytest.mark.parametrize("sep", ["\t", "|", ","])
def test_the_delimiter_is_detected_and_quoted_fields_keep_their_delimiters_and_newlines(cli, conn, tmp_path, sep):
    lines = [sep.join(["id", "note", "spend", "left"]),
             sep.join(["A-1", f'"fine{sep} thanks"', "10.5", "no"]),
             sep.join(["A-2", '"two\nlines"', "7", "yes"]),
             sep.join(["A-3", "plain", "", "no"])]
    path = tmp_path / "x.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = cli("ingest", path, "--table", "dialect", "--id-column", "id", "--label-column", "left", "--json")
    assert res.code == 0, res.err
    assert (res.json["rows_in"], res.json["rows_loaded"]) == (3, 3)
    rows = conn.execute('SELECT id, note, spend, "left" FROM churndb_import.dialect ORDER BY id').fetchall()
    assert rows == [("A-1", f"fine{sep} thanks", 10.5, False), ("A-2", "two\nlines", 7.0, True),
                    ("A-3", "plain", None, False)]


def test_a_file_whose_fields_cannot_be_told_apart_is_refused_in_one_line(cli, conn, tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text("customer and churn and spend\nA1 yes 10\nA2 no 20\n", encoding="utf-8")
    res = cli("ingest", path, "--table", "odd", "--id-column", "customer")
    assert res.code == 1 and len(res.err.strip().splitlines()) == 1, res.err
    assert "cannot tell how its fields are separated" in res.err and "customer and churn" in res.err
    assert conn.execute("SELECT count(*) FROM ingest_batches").fetchone()[0] == 0


def test_a_telco_style_export_trains_with_the_names_as_the_user_typed_them(cli, db_url, tmp_path):
    df = generate(2_000, seed=9)
    rng = np.random.default_rng(9)
    keys = [f"{rng.integers(1000, 9999)}-{''.join(rng.choice(list('ABCDEFGHJKLMNPQRSTUVWXYZ'), 5))}{i}"
            for i in range(len(df))]
    total = (df["monthly_charges"] * df["tenure_months"]).round(2).astype(str)
    total[df["tenure_months"] == 0] = " "  # blanks in a numeric column, as in the public telco export
    export = pd.DataFrame({"customerID": keys, "Contract": df["contract_type"], "tenure": df["tenure_months"],
                           "MonthlyCharges": df["monthly_charges"].round(2), "TotalCharges": total,
                           "Churn": np.where(df["is_churn"] == 1, "Yes", "No")})
    path = tmp_path / "telco.csv"
    export.to_csv(path, index=False)
    assert cli("ingest", path, "--table", "telco", "--id-column", "customerID", "--label-column", "Churn").code == 0
    res = cli("train", "--source", "churndb_import.telco", "--id-column", "customerID", "--label-column", "Churn",
              "--json")
    assert res.code == 0, res.err
    assert res.json["training"]["id_column"] == "customerid" and res.json["metrics"]["auc"] > 0.6
