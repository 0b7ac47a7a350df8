#!/usr/bin/env python3
"""Drive kosoku's Autobahn fuzzing client against a WebSocket server.

Used by scripts/autobahn (run it from the .venv-test venv that
scripts/setup-test-tools creates). Compared with the `kosoku` console script
(which reports nothing until the whole run is over), this driver:

* resolves the case selection itself (comma-separated ids / `*` globs,
  matched with fnmatch against kosoku's case index) and records it in
  ``<outdir>/autobahn-run.json`` so the summary can spot missing cases;
* runs the cases one by one (or N at a time with --parallel), each under a
  per-case timeout (kosoku 0.1.0 has none of its own: a server that accepts
  TCP but never answers the upgrade stalls it forever) and an overall deadline;
* writes each finished case's JSON report immediately (same format and file
  name as kosoku's), so an interrupted run still leaves partial results, and
  writes kosoku's full report (index.json, index.html, per-case .html) at the
  end, also on timeout / SIGTERM / SIGINT;
* prints one progress line per sub-section (e.g. 5.*, 9.1.*).

Exit status: 0 = every selected case ran (whatever its verdict), 2 = bad
arguments/selection, 124 = overall deadline hit (partial report written),
125 = some cases hit the per-case timeout, 130/143 = interrupted.
Verdicts are judged by scripts/autobahn_summary.py, not here.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import fnmatch
import glob
import json
import os
import signal
import sys
import time
from collections import Counter
from importlib.metadata import version as pkg_version

RUN_FILE = "autobahn-run.json"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _patterns(text: str | None) -> list[str]:
    if not text:
        return []
    return [p.strip() for p in text.replace(" ", ",").split(",") if p.strip()]


def select_cases(all_ids: list[str], include: list[str], exclude: list[str]) -> list[str]:
    """fnmatch-based selection, like kosoku's: `1.*` matches 1.1.1 but not 10.1.1."""
    for pat in include + exclude:
        if not any(fnmatch.fnmatchcase(c, pat) for c in all_ids):
            print(f"autobahn_run: case pattern {pat!r} matches no case", file=sys.stderr)
            sys.exit(2)
    chosen = [c for c in all_ids if not include or any(fnmatch.fnmatchcase(c, p) for p in include)]
    return [c for c in chosen if not any(fnmatch.fnmatchcase(c, p) for p in exclude)]


def group_of(case_id: str) -> str:
    """Progress group: sub-section for big sections (9.1), whole section otherwise."""
    parts = case_id.split(".")
    if parts[0] in ("6", "7", "9", "12", "13") and len(parts) > 2:
        return ".".join(parts[:2])
    return parts[0]


def clean_outdir(outdir: str) -> None:
    os.makedirs(outdir, exist_ok=True)
    for pattern in ("*_case_*.json", "*_case_*.html", "index.json", "index.html", RUN_FILE):
        for path in glob.glob(os.path.join(outdir, pattern)):
            os.remove(path)


class Runner:
    def __init__(self, args: argparse.Namespace, selected: list[str]) -> None:
        self.args = args
        self.selected = selected
        self.results: dict[str, object] = {}  # case id -> kosoku CaseResult
        self.timed_out: list[str] = []  # per-case timeout
        self.errors: dict[str, str] = {}  # case id -> python exception text
        self.deadline_hit = False
        self.interrupted: str | None = None
        self.started = _now()
        self.t0 = time.monotonic()
        self.deadline = self.t0 + args.deadline if args.deadline > 0 else None
        from kosoku.cases import CASES

        self.descriptions = {c: str(getattr(CASES[c], "DESCRIPTION", "")) for c in selected}

    # -- reporting ---------------------------------------------------------
    def write_run_file(self, complete: bool) -> None:
        ran = set(self.results)
        meta = {
            "tool": "kosoku",
            "kosokuVersion": pkg_version("kosoku"),
            "url": self.args.url,
            "include": _patterns(self.args.cases),
            "exclude": _patterns(self.args.exclude),
            "parallel": self.args.parallel,
            "caseTimeout": self.args.case_timeout,
            "deadline": self.args.deadline,
            "started": self.started,
            "finished": _now() if complete else None,
            "elapsedSeconds": round(time.monotonic() - self.t0, 3),
            "complete": complete,
            "deadlineHit": self.deadline_hit,
            "interrupted": self.interrupted,
            "selected": self.selected,
            "caseTimeouts": self.timed_out,
            "driverErrors": self.errors,
            "notRun": [c for c in self.selected if c not in ran],
            # kosoku leaves `description` empty for cases that ERROR (e.g. connection
            # refused); keep the texts here so the summary can still name the case.
            "descriptions": self.descriptions,
        }
        path = os.path.join(self.args.outdir, RUN_FILE)
        with open(path + ".tmp", "w") as f:
            json.dump(meta, f, indent=2)
        os.replace(path + ".tmp", path)

    def write_case_json(self, result: object) -> None:
        from kosoku._report import _JSON_KW, _report_filename, case_to_dict

        path = os.path.join(
            self.args.outdir, _report_filename(result.agent, result.case_id, "json")
        )
        with open(path, "w") as f:
            json.dump(case_to_dict(result), f, **_JSON_KW)

    def write_full_report(self) -> None:
        from kosoku._report import write_reports

        ordered = [self.results[c] for c in self.selected if c in self.results]
        if ordered:
            write_reports(ordered, self.args.outdir, produce_html=not self.args.no_html)

    # -- running -----------------------------------------------------------
    def remaining(self) -> float | None:
        if self.deadline is None:
            return None
        return self.deadline - time.monotonic()

    async def run_case(self, case_id: str) -> None:
        from kosoku import FailureError, run_fuzzingclient

        limit = float(self.args.case_timeout) if self.args.case_timeout > 0 else None
        rem = self.remaining()
        if rem is not None:
            if rem <= 0:
                self.deadline_hit = True
                return
            limit = rem if limit is None else min(limit, rem)
        try:
            coro = run_fuzzingclient(self.args.url, [case_id], None, concurrency=1)
            results = await asyncio.wait_for(coro, limit)
        except FailureError as failure:
            results = failure.results
        except asyncio.TimeoutError:
            rem = self.remaining()
            if rem is not None and rem <= 0.5:
                self.deadline_hit = True
            else:
                self.timed_out.append(case_id)
            return
        except Exception as exc:  # noqa: BLE001 - report, keep going
            self.errors[case_id] = f"{type(exc).__name__}: {exc}"
            return
        for r in results:
            if r.case_id == case_id:
                self.results[case_id] = r
                self.write_case_json(r)

    async def run(self) -> None:
        groups: dict[str, list[str]] = {}
        for c in self.selected:
            groups.setdefault(group_of(c), []).append(c)
        sem = asyncio.Semaphore(max(1, self.args.parallel))

        async def one(case_id: str) -> None:
            async with sem:
                if not self.deadline_hit:
                    await self.run_case(case_id)

        width = max(len(g) for g in groups) + 2
        for gi, (group, ids) in enumerate(groups.items(), 1):
            if self.deadline_hit:
                break
            g0 = time.monotonic()
            await asyncio.gather(*(one(c) for c in ids))
            self.write_run_file(complete=False)
            counts = Counter()
            for c in ids:
                r = self.results.get(c)
                if r is not None:
                    counts[r.behavior.value] += 1
                elif c in self.timed_out:
                    counts["TIMEOUT"] += 1
                else:
                    counts["NOT-RUN"] += 1
            bad_close = sum(
                1
                for c in ids
                if c in self.results
                and self.results[c].behavior_close.value not in ("OK", "INFORMATIONAL")
            )
            verdicts = "  ".join(f"{k} {v}" for k, v in sorted(counts.items()))
            if bad_close:
                verdicts += f"  (close verdict not OK: {bad_close})"
            print(
                f"  [{gi:2d}/{len(groups)}] {group + '.*':<{width}} {len(ids):4d} cases "
                f"{time.monotonic() - g0:7.1f}s  {verdicts}",
                flush=True,
            )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="", help="server under test, e.g. ws://127.0.0.1:9001")
    ap.add_argument("--cases", default="", help="comma-separated case ids/globs (default: all)")
    ap.add_argument("--exclude", default="", help="comma-separated case ids/globs to drop")
    ap.add_argument("--outdir", help="report directory (required unless --list)")
    ap.add_argument("--parallel", type=int, default=1, help="cases run concurrently (default 1)")
    ap.add_argument("--case-timeout", type=float, default=150.0,
                    help="seconds before one case is abandoned (0 = none; default 150)")
    ap.add_argument("--deadline", type=float, default=0.0,
                    help="overall seconds budget; stop and write partial report (0 = none)")
    ap.add_argument("--no-html", action="store_true", help="skip HTML reports")
    ap.add_argument("--list", action="store_true", help="print the selected case ids and exit")
    args = ap.parse_args()

    from kosoku.cases import CASES

    selected = select_cases(list(CASES), _patterns(args.cases), _patterns(args.exclude))
    if args.list:
        print("\n".join(selected))
        return 0
    if not selected:
        print("autobahn_run: the selection is empty", file=sys.stderr)
        return 2
    if not args.url or not args.outdir:
        ap.error("--url and --outdir are required")

    clean_outdir(args.outdir)
    runner = Runner(args, selected)
    runner.write_run_file(complete=False)
    print(
        f"autobahn: kosoku {pkg_version('kosoku')} -> {args.url}: {len(selected)} cases"
        f" (parallel {args.parallel}, per-case timeout {args.case_timeout:g}s"
        + (f", deadline {args.deadline:g}s" if args.deadline > 0 else "")
        + ")",
        flush=True,
    )

    async def amain() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()

        def stop(name: str) -> None:
            runner.interrupted = name
            task.cancel()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop, signal.Signals(sig).name)
        await runner.run()

    try:
        asyncio.run(amain())
    except asyncio.CancelledError:
        pass
    finally:
        # Always leave kosoku's report for whatever did run.
        complete = not (runner.deadline_hit or runner.interrupted) and all(
            c in runner.results or c in runner.timed_out or c in runner.errors
            for c in selected
        )
        try:
            runner.write_full_report()
        finally:
            runner.write_run_file(complete=complete)

    elapsed = time.monotonic() - runner.t0
    print(f"autobahn: ran {len(runner.results)}/{len(selected)} cases in {elapsed:.1f}s; "
          f"report in {args.outdir}", flush=True)
    if runner.interrupted:
        print(f"autobahn: interrupted by {runner.interrupted}", file=sys.stderr)
        return 143 if runner.interrupted == "SIGTERM" else 130
    if runner.deadline_hit:
        print(f"autobahn: overall deadline of {args.deadline:g}s reached; "
              f"{len(selected) - len(runner.results)} cases not run", file=sys.stderr)
        return 124
    if runner.timed_out:
        print(f"autobahn: {len(runner.timed_out)} case(s) exceeded the per-case timeout of "
              f"{args.case_timeout:g}s: {', '.join(runner.timed_out)}", file=sys.stderr)
        return 125
    return 0


if __name__ == "__main__":
    sys.exit(main())
