"""`guardstream lake sql "SELECT …" [--json]`: query the Iceberg lake with DuckDB.

Tables: `verdicts` (one row per idempotency key; `results` is a list of structs) and `dead_letters`.
"""

from __future__ import annotations

import argparse

from guardstream.pipeline.cli import emit, fail
from guardstream.pipeline.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("lake", help="query the Iceberg lake (verdicts, dead_letters) with DuckDB SQL")
    parser.add_argument("action", choices=["sql"])
    parser.add_argument("query")
    parser.add_argument("--json", action="store_true", help="print one JSON object {columns, rows}")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    import duckdb

    from guardstream.pipeline.stack import LocalStack

    stack = LocalStack(settings)
    lake = stack.open_lake()
    lake.ensure_tables()
    try:
        cursor = lake.duckdb().execute(args.query)
    except duckdb.Error as exc:
        return fail(f"query failed: {exc}", args.json)
    columns = [d[0] for d in cursor.description or ()]
    rows = cursor.fetchall()
    if args.json:
        emit({"columns": columns, "rows": rows}, as_json=True)
    else:
        print("\t".join(columns))
        for row in rows:
            print("\t".join(str(v) for v in row))
    return 0
