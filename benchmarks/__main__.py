"""The whole benchmark suite: ingest, queries, state, paths and scans, then one table of every
target.

Usage::

    python -m benchmarks [--quick] [--only ingest queries state paths scans]
                         [--out-dir bench-results]

Each benchmark runs in its own process, starting and stopping its own broker and workers
(the path and scan benchmarks compare two ways in the pure core and need neither), and writes
its JSON into ``--out-dir`` (``<name>.json``, or ``<name>-quick.json``). The suite then
prints every target with the figure measured and a verdict, and writes them to
``suite.json`` (``suite-quick.json``). A benchmark that fails leaves its targets ``n/a``
and the suite exits 1.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.report import machine_info
from benchmarks.suite_targets import format_rows, ingest_rows, query_rows, state_rows
from project_engine.localkafka import KAFKA_VERSION

__all__ = ["BENCHMARKS", "command", "main", "parse_args"]

BENCHMARKS = ("ingest", "queries", "state", "paths", "scans")
_EXTRA = {"queries": ["--with-ingest"]}  # the query targets are judged while ingest runs


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (a few minutes)")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these")
    parser.add_argument("--out-dir", type=Path, default=Path("bench-results"))
    return parser.parse_args(argv)


def json_path(out_dir: Path, name: str, quick: bool) -> Path:
    return out_dir / f"{name}{'-quick' if quick else ''}.json"


def command(name: str, out_dir: Path, quick: bool) -> list[str]:
    cmd = [sys.executable, "-m", f"benchmarks.{name}", *_EXTRA.get(name, [])]
    if quick:
        cmd.append("--quick")
    return [*cmd, "--json-out", str(json_path(out_dir, name, quick))]


def _load(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    chosen = args.only or list(BENCHMARKS)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    failed: list[str] = []
    seconds: dict[str, float] = {}
    docs: dict[str, dict[str, Any] | None] = {}
    for name in chosen:
        path = json_path(args.out_dir, name, args.quick)
        path.unlink(missing_ok=True)  # a stale file must not pass for this run's figures
        print(f"\n=== {name}: {' '.join(command(name, args.out_dir, args.quick))}", flush=True)
        started = time.monotonic()
        code = subprocess.call(command(name, args.out_dir, args.quick))
        seconds[name] = round(time.monotonic() - started, 1)
        docs[name] = _load(path)
        if code != 0 or docs[name] is None:
            failed.append(name)
    rows = ingest_rows(docs.get("ingest")) + query_rows(docs.get("queries"))
    rows += state_rows(docs.get("state"))
    print("\n=== targets\n" + format_rows(rows))
    m = machine_info(KAFKA_VERSION)
    print(
        f"machine: {m.get('cores')} cores, {m.get('memory_gib')} GiB, Python {m.get('python')}, "
        f"Kafka {m.get('kafka')}; seconds per benchmark: {seconds}"
    )
    summary = {
        "machine": m,
        "quick": args.quick,
        "seconds": seconds,
        "failed": failed,
        "targets": [r.as_json() for r in rows],
    }
    out = args.out_dir / f"suite{'-quick' if args.quick else ''}.json"
    out.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    print(f"wrote {out}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
