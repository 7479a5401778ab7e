"""The schema is ready to shard on customer_id (the Citus plan in churndb.distribution, checked on the catalog).

Citus itself is not installed here: these tests check the rules Citus imposes on a schema, not Citus."""

from pathlib import Path

import psycopg

from churndb.store import citus as distribution, migrate

ROOT = Path(__file__).resolve().parents[2]
SHARDED = {**distribution.DISTRIBUTED, **distribution.DISTRIBUTED_APART}


def _catalog(url):
    with psycopg.connect(url) as conn:
        tables = {r[0] for r in conn.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = 'churndb'::regnamespace AND relkind IN ('r', 'p') "
            "AND NOT relispartition").fetchall()}
        unique = conn.execute(
            "SELECT c.relname, array_agg(a.attname::text) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) "
            "WHERE c.relnamespace = 'churndb'::regnamespace AND i.indisunique AND NOT c.relispartition "
            "GROUP BY i.indexrelid, c.relname").fetchall()
        foreign = conn.execute(
            "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint "
            "WHERE contype = 'f' AND connamespace = 'churndb'::regnamespace").fetchall()
    return tables, unique, foreign


def _name(regclass_text):
    return regclass_text.split(".")[-1]


def test_every_table_has_a_place_in_the_plan(empty_db_url):
    migrate.upgrade(empty_db_url)
    tables, _, _ = _catalog(empty_db_url)
    planned = set(SHARDED) | set(distribution.REFERENCE)
    assert tables == planned, f"unclassified: {tables - planned}; gone: {planned - tables}"
    assert not set(SHARDED) & set(distribution.REFERENCE)


def test_sharded_tables_keep_the_shard_key_in_every_unique_constraint(empty_db_url):
    migrate.upgrade(empty_db_url)
    _, unique, _ = _catalog(empty_db_url)
    for table, columns in unique:
        if table in SHARDED:
            assert SHARDED[table] in columns, f"{table}: unique ({', '.join(columns)}) lacks {SHARDED[table]}"


def test_foreign_keys_point_only_at_reference_tables(empty_db_url):
    migrate.upgrade(empty_db_url)
    _, _, foreign = _catalog(empty_db_url)
    assert foreign
    for child, parent in foreign:
        assert _name(parent) in distribution.REFERENCE, f"{child} -> {parent}: only reference tables may be referenced"


def test_the_documented_statements_are_the_plan():
    doc = (ROOT / "docs" / "CITUS.md").read_text()
    for statement in distribution.citus_statements():
        assert statement in doc
