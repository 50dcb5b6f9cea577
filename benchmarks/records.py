"""Record reader throughput and memory: SGF Go games streamed out of `.tar.gz` archives.

Throughput on one archive (default: the KGS 2001 archive of the shared data, 2,298 games), each stage
timed on its own pass over the archive, best of `--repeats`:
  - `archive`: decompress and decode the members only (`iter_files`);
  - `parse`: plus the SGF tree parse (`sgf.parse_collection`), positions = B/W move nodes;
  - `parse+replay`: the whole reader (`read_records`): every move replayed through the Go rules.
Games/s and positions/s per wall second and per CPU second of this process (pin it to one core:
`taskset -c 0`).

Memory: peak RSS (`resource.getrusage(RUSAGE_SELF).ru_maxrss`) of fresh subprocesses that stream the
first 1,000 games and then all games of every archive (all 31,047 of the shared KGS data; minutes),
through the whole reader. Streaming means flat memory: the two peaks within 10%.

    taskset -c 0 python benchmarks/records.py [--archive A.tar.gz] [--all DIR] [--out JSON]

Writes `benchmarks/results/records.json` (command line, versions, date, data files with sizes,
figures).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from traincore.provenance import write_json  # noqa: E402

SHARED = Path(os.environ.get("GRIDNETS_DATA", ROOT.parent / "shared" / "data"))
KGS = SHARED / "games" / "go" / "kgs6d"
DEFAULT_ARCHIVE = KGS / "KGS-2001-19-2298-.tar.gz"


def _timed(fn) -> dict:
    w0, c0 = time.perf_counter(), time.process_time()
    games, positions = fn()
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    return {"games": games, "positions": positions, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
            "games_per_s": round(games / wall, 1), "positions_per_s": round(positions / wall),
            "games_per_cpu_s": round(games / cpu, 1), "positions_per_cpu_s": round(positions / cpu)}


def stage_archive(paths) -> tuple[int, int]:
    from boardnet.records.read import ReadReport, iter_files

    n = chars = 0
    for _, _, text in iter_files(paths, report=ReadReport()):
        n += 1
        chars += len(text)
    return n, 0


def stage_parse(paths) -> tuple[int, int]:
    from boardnet.records.read import ReadReport, iter_files
    from boardnet.records.sgf import SGFError, parse_collection

    games = positions = 0
    for _, _, text in iter_files(paths, report=ReadReport()):
        for tree in parse_collection(text):
            if isinstance(tree, SGFError):
                continue
            games += 1
            positions += sum(1 for node in tree for ident, _ in node if ident in ("B", "W"))
    return games, positions


def stage_replay(paths) -> tuple[int, int]:
    from boardnet.records.read import ReadReport, read_records

    report = ReadReport()
    for _ in read_records(paths, report=report):
        pass
    return report.games, report.positions


def rss_child(limit: int, paths: list[str]) -> None:
    """In a fresh process: stream up to `limit` games (0 = all); print JSON with the peak RSS."""
    from boardnet.records.read import ReadReport, read_records

    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = ReadReport()
    w0 = time.perf_counter()
    n = 0
    for _ in read_records(paths, report=report):
        n += 1
        if limit and n >= limit:
            break
    wall = time.perf_counter() - w0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss   # KiB on Linux
    print(json.dumps({"games": report.games, "positions": report.positions,
                      "skipped": report.skipped_total, "truncated": report.truncated,
                      "skipped_by_reason": dict(report.skipped), "truncated_by_reason": dict(report.cut),
                      "wall_s": round(wall, 1), "rss_after_imports_mib": round(base / 1024, 1),
                      "peak_rss_mib": round(peak / 1024, 1)}))


def _rss_run(limit: int, paths: list[str]) -> dict:
    cmd = [sys.executable, __file__, "--rss-child", str(limit), *paths]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _versions() -> dict:
    import chess
    import numpy

    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip()
    except OSError:
        commit = ""
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"python": platform.python_version(), "numpy": numpy.__version__,
            "python-chess": chess.__version__, "platform": platform.platform(), "cpu": cpu,
            "affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "git_commit": commit}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE, help="archive for throughput")
    ap.add_argument("--all", type=Path, default=KGS, help="folder of archives for the memory check")
    ap.add_argument("--small", type=int, default=1000, help="games in the small memory run")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "records.json")
    ap.add_argument("--rss-child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.rss_child is not None:
        rss_child(args.rss_child, args.paths)
        return 0
    if not args.archive.exists():
        print(f"records benchmark: {args.archive} not found (set GRIDNETS_DATA)", file=sys.stderr)
        return 2
    archives = sorted(str(p) for p in args.all.glob("*.tar.gz")) if args.all.is_dir() else []
    result = {"benchmark": "records", "command": " ".join([Path(sys.executable).name] + sys.argv),
              "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "versions": _versions(),
              "data": {p: os.path.getsize(p) for p in sorted({str(args.archive), *archives})},
              "throughput_archive": str(args.archive)}
    paths = [str(args.archive)]
    stages = {}
    for name, fn in (("archive", stage_archive), ("parse", stage_parse), ("parse+replay", stage_replay)):
        runs = [_timed(lambda: fn(paths)) for _ in range(args.repeats)]
        stages[name] = min(runs, key=lambda r: r["wall_s"])
        print(f"{name:13s} {stages[name]['games']:6,} games  {stages[name]['positions']:9,} positions  "
              f"{stages[name]['wall_s']:7.2f} s  {stages[name]['games_per_s']:8,.1f} games/s  "
              f"{stages[name]['positions_per_s']:9,} positions/s", flush=True)
    result["throughput"] = stages
    if not args.skip_memory and archives:
        small = _rss_run(args.small, archives)
        print(f"memory: {small['games']:,} games: peak RSS {small['peak_rss_mib']} MiB", flush=True)
        full = _rss_run(0, archives)
        print(f"memory: {full['games']:,} games: peak RSS {full['peak_rss_mib']} MiB "
              f"({full['wall_s']} s)", flush=True)
        ratio = full["peak_rss_mib"] / small["peak_rss_mib"]
        result["memory"] = {"small": small, "all": full, "peak_ratio_all_over_small": round(ratio, 3),
                            "flat_within_10pct": bool(ratio <= 1.10)}
        print(f"memory: peak ratio all/small {ratio:.3f} ({'flat' if ratio <= 1.1 else 'NOT flat'})")
    write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
