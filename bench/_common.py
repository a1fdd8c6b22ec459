"""What every benchmark shares: Django set up from the repo root, a throwaway database, timing, output.

A benchmark never touches the configured database: `bench_database()` creates its own next to it
(PostgreSQL: `<name>_bench_<label>`; SQLite: a file under /tmp), migrates it, and drops it at the
end, on failure and on SIGTERM too. Figures are printed one a line as `name: value unit`.
"""

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def setup_django() -> None:
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cxplatform.settings")
    import django
    from django.conf import settings

    django.setup()
    # DEBUG keeps every query's SQL in memory and wraps each cursor call: production runs without it.
    settings.DEBUG = False


def is_postgresql() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


def parse_scale(description: str, argv: list[str] | None = None) -> argparse.Namespace:
    """--scale defaults to 1.0 on PostgreSQL and 0.05 elsewhere (SQLite), so `make bench` stays
    quick on a bare machine; the targets are judged on PostgreSQL at scale 1.0."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--scale", type=float, default=None, help="data size factor")
    parser.add_argument("--explain", action="store_true", help="also print query plans")
    args = parser.parse_args(argv)
    if args.scale is None:
        args.scale = 1.0 if is_postgresql() else 0.05
    return args


@contextmanager
def bench_database(label: str) -> Iterator[str]:
    """Create, migrate and yield the name of a throwaway database; drop it afterwards."""
    from django.db import connection

    def _terminate(signum, frame):
        raise SystemExit(128 + signum)  # unwinds through the finally below

    previous = signal.signal(signal.SIGTERM, _terminate)
    old_name = connection.settings_dict["NAME"]
    scratch = None
    if connection.vendor == "sqlite":
        scratch = tempfile.mkdtemp(prefix=f"cxbench-{label}-")
        test_name = str(Path(scratch) / "bench.sqlite3")
    else:
        test_name = f"{old_name}_bench_{label}"
    connection.settings_dict.setdefault("TEST", {})["NAME"] = test_name
    created = False
    try:
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        created = True
        yield test_name
    finally:
        try:
            if created:
                connection.creation.destroy_test_db(old_name, verbosity=0)
        finally:
            if scratch:
                shutil.rmtree(scratch, ignore_errors=True)
            signal.signal(signal.SIGTERM, previous)


# --- data and timing helpers -------------------------------------------------------------------

NULL = r"\N"  # COPY's text format


class Timestamps:
    """Formats epoch seconds as timestamp text ~10x faster than datetime, by caching the day."""

    def __init__(self, suffix: str, separator: str = " "):
        self.suffix, self.separator, self.days = suffix, separator, {}

    def __call__(self, seconds: int) -> str:
        day, rest = divmod(seconds, 86400)
        date = self.days.get(day)
        if date is None:
            date = self.days[day] = datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%d")
        hours, rest = divmod(rest, 3600)
        return f"{date}{self.separator}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}{self.suffix}"


def insert_rows(table: str, columns: str, rows) -> None:
    """Load rows of text values (None for NULL): COPY on PostgreSQL, in ~8 MB writes; executemany
    elsewhere. Times are text too (see Timestamps), so no per-value adaptation slows the load."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:  # else SQLite commits every row
        if connection.vendor != "postgresql":
            marks = ", ".join(["%s"] * len(columns.split(",")))
            batch = []
            for row in rows:
                batch.append(row)
                if len(batch) == 20_000:
                    cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", batch)
                    batch = []
            if batch:
                cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", batch)
            return
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            lines = []
            for row in rows:
                lines.append("\t".join(NULL if v is None else str(v) for v in row))
                if len(lines) == 50_000:
                    copy.write("\n".join(lines) + "\n")
                    lines = []
            if lines:
                copy.write("\n".join(lines) + "\n")


def vacuum(*tables: str, analyze: bool = True) -> None:
    """VACUUM (ANALYZE) the tables, or the whole database; on SQLite, ANALYZE it."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"VACUUM {'ANALYZE' if analyze else ''} {', '.join(tables)}")
        elif analyze:
            cursor.execute("ANALYZE")


def rolled_back(run):
    """Run `run` in a transaction that is then rolled back, so every repeat starts alike."""
    from django.db import transaction

    def wrapped():
        with transaction.atomic():
            run()
            transaction.set_rollback(True)

    return wrapped


def report(name: str, value, unit: str = "") -> None:
    if isinstance(value, float):
        value = f"{value:.3f}" if value < 100 else f"{value:,.0f}".replace(",", "")
    print(f"{name}: {value} {unit}".rstrip(), flush=True)


def best_of(
    runs: dict[str, Callable[[], object]], *, repeat: int, before: Callable[[], object] | None = None
) -> dict[str, float]:
    """The fastest of `repeat` timed calls of each of `runs`, each after an untimed call of `before`.

    The runs take turns (a, b, a, b, ...) so that a burst of load from other work on the machine
    slows them alike, and the ratio between them holds up better than either time does.
    """
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for name, run in runs.items():
            if before is not None:
                before()
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def load_average() -> float:
    """The 1-minute load average: above the core count, other work is slowing the figures down."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
