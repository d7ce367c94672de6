from chaoslab.services.common.migrations import LATEST, migrations


def test_migrations_are_numbered_without_gaps():
    versions = [version for version, _, _ in migrations()]
    assert versions == list(range(1, LATEST + 1))


def test_migrations_are_written_to_be_rerun_safely():
    for version, name, sql in migrations():
        for statement in ("CREATE TABLE ", "CREATE INDEX ", "CREATE UNIQUE INDEX ", "CREATE SCHEMA ", "ADD COLUMN "):
            assert sql.count(statement) == sql.count(statement + "IF NOT EXISTS"), (
                f"{version:04d}_{name}: {statement.strip()} without IF NOT EXISTS"
            )
        if "INSERT INTO" in sql:
            assert sql.count("INSERT INTO") == sql.count("ON CONFLICT"), (
                f"{version:04d}_{name}: seed without ON CONFLICT"
            )
