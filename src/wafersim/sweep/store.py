"""A sweep's results on disk: a journal that survives `kill -9`, and the Parquet table built from it.

- `journal.jsonl`: one line per finished point, appended and fsynced as each finishes. A line cut short by a
  kill is ignored when read, so the journal never holds a partial row.
- `results.parquet`: one row per point of the spec (inputs as `param_*`, every output key, `error`, the
  version, code hash and seed), rewritten atomically (temporary file + rename) from the journal.
- `summary.json`: what the last run did, written atomically.
A point is reused when the journal has it with the same code hash; otherwise it is computed again.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from wafersim.errors import WafersimError

JOURNAL = "journal.jsonl"
RESULTS = "results.parquet"
SUMMARY = "summary.json"


def prepare(out_dir: Path) -> Path:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise WafersimError(f"{out_dir}: cannot create the results folder ({error.strerror})") from None
    if not out_dir.is_dir():
        raise WafersimError(f"{out_dir}: not a folder")
    return out_dir


def read_journal(out_dir: Path) -> dict[str, dict[str, Any]]:
    """Finished points by point id (the last record wins); lines cut short by a kill are skipped."""
    path = out_dir / JOURNAL
    records: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return records
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as error:
        raise WafersimError(f"{path}: cannot read the journal ({error.strerror})") from None
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # the tail of a run killed mid-write
        if isinstance(record, dict) and "point_id" in record and "row" in record:
            records[record["point_id"]] = record
    return records


class Journal:
    """Appends finished points; each line is complete on disk before the next point is recorded."""

    def __init__(self, out_dir: Path) -> None:
        path = out_dir / JOURNAL
        self._file = path.open("a", encoding="utf-8")
        if self._file.tell() > 0:
            self._file.write("\n")  # a line cut short by a kill must not swallow the next record

    def append(self, point_id: str, code_hash: str, row: dict[str, Any], seconds: float) -> None:
        record = {"point_id": point_id, "code_hash": code_hash, "seconds": seconds, "row": row}
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def _atomic_write(path: Path, write) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def write_summary(out_dir: Path, summary: dict[str, Any]) -> None:
    def write(temporary: str) -> None:
        Path(temporary).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")

    _atomic_write(out_dir / SUMMARY, write)


def _column(values: list[Any]):
    """One Arrow column; a column mixing kinds (e.g. batch 1 and 'auto') is kept as text."""
    import pyarrow as pa

    kinds = {type(value) for value in values if value is not None}
    if kinds <= {int, float} or kinds <= {bool} or kinds <= {str}:
        return pa.array(values)
    return pa.array([None if value is None else str(value) for value in values], type=pa.string())


def write_results(out_dir: Path, rows: list[dict[str, Any]]) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise WafersimError("sweep results are Parquet: pip install -e '.[parquet]'") from None
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    table = pa.table({name: _column([row.get(name) for row in rows]) for name in names})
    _atomic_write(out_dir / RESULTS, lambda temporary: pq.write_table(table, temporary))


def query(out_dir: Path, sql: str) -> tuple[list[str], list[tuple]]:
    """Run SQL over a sweep's results (table `results`) with DuckDB: (column names, rows)."""
    try:
        import duckdb
    except ImportError:
        raise WafersimError("querying sweep results needs DuckDB: pip install -e '.[parquet]'") from None
    path = out_dir / RESULTS
    if not path.is_file():
        raise WafersimError(f"{path}: no results here (run the sweep with this folder as its output)")
    connection = duckdb.connect()
    try:
        connection.execute(f"CREATE VIEW results AS SELECT * FROM read_parquet('{_sql_text(path)}')")
        cursor = connection.execute(sql)
        return [column[0] for column in cursor.description or []], cursor.fetchall()
    except duckdb.Error as error:
        raise WafersimError(f"query: {str(error).splitlines()[0]}", field="sql") from None
    finally:
        connection.close()


def _sql_text(path: Path) -> str:
    return str(path).replace("'", "''")
