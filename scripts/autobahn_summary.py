#!/usr/bin/env python3
"""Summarise a kosoku (Autobahn TestSuite) fuzzing-client report.

Usage: scripts/autobahn_summary.py REPORT_DIR [--strict] [--allow-bad-close]
                                   [--fail-on-unimplemented] [--slowest N]

Reads what kosoku writes into REPORT_DIR: ``index.json`` ({agent: {case id:
{behavior, behaviorClose, remoteCloseCode, duration, reportfile}}}) and the
per-case ``<agent>_case_<id>.json`` files (description, result, resultClose,
...). If index.json is absent (interrupted run) the per-case files are scanned
instead. ``autobahn-run.json`` (written by scripts/autobahn_run.py, optional)
gives the selected case list, so cases missing from the report are detected.

Prints a per-section table (OK / NON-STRICT / INFORMATIONAL / UNIMPLEMENTED /
FAILED / total, plus a BAD-CLOSE column counting cases whose closing-handshake
verdict is not OK/INFORMATIONAL), lists FAILED, UNIMPLEMENTED, bad-close,
NON-STRICT and missing cases, the slowest cases, and writes summary.json.

Exit status: 0 all good; 1 if any case FAILED (or ERROR), any selected case is
missing, the run did not complete, any case has a bad close verdict (unless
--allow-bad-close), any NON-STRICT case with --strict, or any UNIMPLEMENTED
case with --fail-on-unimplemented; 2 if there is no report to read.
Python 3 standard library only.
"""

from __future__ import annotations

import argparse
import glob
import html
import json
import os
import re
import sys

RUN_FILE = "autobahn-run.json"

# Autobahn's section names (kosoku/_report_assets.py CaseCategories).
SECTIONS = {
    "1": "Framing",
    "2": "Pings/Pongs",
    "3": "Reserved Bits",
    "4": "Opcodes",
    "5": "Fragmentation",
    "6": "UTF-8 Handling",
    "7": "Close Handling",
    "8": "Misc",
    "9": "Limits/Performance",
    "10": "Misc",
    "12": "Compression (payloads)",
    "13": "Compression (parameters)",
}
COLUMNS = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"]
GOOD_CLOSE = ("OK", "INFORMATIONAL")


def sort_key(case_id: str) -> list[int]:
    try:
        return [int(p) for p in case_id.split(".")]
    except ValueError:
        return [10**9]


def plain(text: object, limit: int = 200) -> str:
    """HTML-ish Autobahn description -> one plain line."""
    s = re.sub(r"<br\s*/?>", " ", str(text or ""), flags=re.I)
    s = html.unescape(re.sub(r"<[^>]+>", "", s))
    s = " ".join(s.split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


def load_json(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def load_cases(report_dir: str) -> tuple[dict[str, dict], str]:
    """Return ({case id: case record}, source description)."""
    cases: dict[str, dict] = {}
    index = load_json(os.path.join(report_dir, "index.json"))
    if isinstance(index, dict) and index:
        for agent, entries in index.items():
            for case_id, entry in entries.items():
                rec = dict(entry)
                rec.setdefault("agent", agent)
                detail = load_json(os.path.join(report_dir, entry.get("reportfile", "")))
                if detail:
                    rec.update(detail)
                rec["id"] = case_id
                cases[case_id] = rec
        return cases, "index.json"
    for path in glob.glob(os.path.join(report_dir, "*_case_*.json")):
        detail = load_json(path)
        if detail and "id" in detail and "behavior" in detail:
            cases[detail["id"]] = detail
    return cases, "per-case JSON files (no index.json: the run was interrupted?)"


def bucket(behavior: str) -> str:
    return behavior if behavior in COLUMNS else "FAILED"  # ERROR, NO_CLOSE, unknown


def main() -> int:
    ap = argparse.ArgumentParser(description="Summarise a kosoku/Autobahn report directory.")
    ap.add_argument("report_dir")
    ap.add_argument("--strict", action="store_true", help="NON-STRICT cases fail the run")
    ap.add_argument("--allow-bad-close", action="store_true",
                    help="only warn about closing-handshake verdicts (WRONG CODE, UNCLEAN, FAILED BY CLIENT, ...)")
    ap.add_argument("--fail-on-unimplemented", action="store_true")
    ap.add_argument("--slowest", type=int, default=5, help="list the N slowest cases (0 = none)")
    ap.add_argument("--no-json", action="store_true", help="do not write summary.json")
    args = ap.parse_args()

    run = load_json(os.path.join(args.report_dir, RUN_FILE)) or {}
    cases, source = load_cases(args.report_dir)
    if not cases and not run:
        print(f"autobahn-summary: no kosoku report found in {args.report_dir}", file=sys.stderr)
        return 2

    selected = run.get("selected") or sorted(cases, key=sort_key)
    missing = [c for c in selected if c not in cases]
    extra = sorted((c for c in cases if run.get("selected") and c not in set(selected)), key=sort_key)
    timeouts = set(run.get("caseTimeouts") or [])
    driver_errors = run.get("driverErrors") or {}

    # Table.
    table: dict[str, dict[str, int]] = {}
    for case_id in sorted(cases, key=sort_key):
        rec = cases[case_id]
        row = table.setdefault(case_id.split(".")[0], {k: 0 for k in COLUMNS + ["total", "BAD-CLOSE"]})
        row[bucket(rec.get("behavior", "?"))] += 1
        row["total"] += 1
        if rec.get("behaviorClose") not in GOOD_CLOSE:
            row["BAD-CLOSE"] += 1
    grand = {k: sum(r[k] for r in table.values()) for k in COLUMNS + ["total", "BAD-CLOSE"]}

    agents = sorted({str(r.get("agent", "?")) for r in cases.values()})
    print()
    print("Autobahn TestSuite summary"
          + (f" (kosoku {run['kosokuVersion']})" if run.get("kosokuVersion") else ""))
    print(f"  report : {os.path.abspath(args.report_dir)}  [{source}]")
    if run.get("url"):
        print(f"  server : {run['url']}   agent: {', '.join(agents)}")
    else:
        print(f"  agent  : {', '.join(agents)}")
    sel = f"{len(selected)} selected"
    if run.get("include") or run.get("exclude"):
        sel += f" (cases {','.join(run.get('include') or ['*'])}"
        sel += f"; excluding {','.join(run['exclude'])})" if run.get("exclude") else ")"
    if run.get("elapsedSeconds") is not None:
        sel += f", run took {run['elapsedSeconds']:.1f}s"
    print(f"  cases  : {sel}")
    print()
    name_w = max([len(f"{s} {SECTIONS.get(s, '')}") for s in table] + [10])
    cols = COLUMNS + ["total", "BAD-CLOSE"]
    head = f"  {'section':<{name_w}}" + "".join(f"{c:>15}" if c == "INFORMATIONAL" or c == "UNIMPLEMENTED"
                                                 else f"{c:>11}" for c in cols)
    print(head)
    print("  " + "-" * (len(head) - 2))

    def fmt_row(label: str, row: dict[str, int]) -> str:
        return f"  {label:<{name_w}}" + "".join(
            f"{row[c]:>15}" if c in ("INFORMATIONAL", "UNIMPLEMENTED") else f"{row[c]:>11}" for c in cols)

    for s in sorted(table, key=lambda x: int(x) if x.isdigit() else 10**9):
        print(fmt_row(f"{s} {SECTIONS.get(s, '')}", table[s]))
    print("  " + "-" * (len(head) - 2))
    print(fmt_row("total", grand))
    if missing:
        print(f"  missing from report: {len(missing)} of {len(selected)} selected cases")
    print("  (BAD-CLOSE: closing-handshake verdict not OK/INFORMATIONAL; overlaps the other columns)")

    failed = [c for c in sorted(cases, key=sort_key) if bucket(cases[c].get("behavior", "?")) == "FAILED"]
    unimpl = [c for c in sorted(cases, key=sort_key) if cases[c].get("behavior") == "UNIMPLEMENTED"]
    nonstrict = [c for c in sorted(cases, key=sort_key) if cases[c].get("behavior") == "NON-STRICT"]
    bad_close = [c for c in sorted(cases, key=sort_key)
                 if cases[c].get("behaviorClose") not in GOOD_CLOSE and c not in failed]

    descriptions = run.get("descriptions") or {}

    def describe(c: str, show_close: bool = True) -> None:
        r = cases[c]
        close = f"  close={r.get('behaviorClose')} remoteCode={r.get('remoteCloseCode')}" if show_close else ""
        print(f"  {c:<9} {r.get('behavior')}{close}  ({r.get('duration', '?')} ms)")
        print(f"            case  : {plain(r.get('description') or descriptions.get(c, ''))}")
        if r.get("result"):
            print(f"            result: {plain(r.get('result'))}")
        if show_close and r.get("behaviorClose") not in GOOD_CLOSE and r.get("resultClose"):
            print(f"            close : {plain(r.get('resultClose'))}")

    if failed:
        print(f"\nFAILED ({len(failed)}):")
        # Cases that could not run at all (behavior ERROR, e.g. the server died and
        # every later case got "connection refused") are grouped by reason.
        errors: dict[str, list[str]] = {}
        for c in failed:
            if cases[c].get("behavior") == "ERROR":
                errors.setdefault(plain(cases[c].get("result")), []).append(c)
            else:
                describe(c)
        for reason, ids in errors.items():
            print(f"  ERROR ({len(ids)} case(s)): {reason}")
            print(f"            cases : {', '.join(ids)}")
    if unimpl:
        print(f"\nUNIMPLEMENTED ({len(unimpl)}):")
        for c in unimpl:
            describe(c, show_close=False)
    if bad_close:
        print(f"\nBad closing-handshake verdict ({len(bad_close)}){' [allowed]' if args.allow_bad_close else ''}:")
        for c in bad_close:
            describe(c)
    if nonstrict:
        print(f"\nNON-STRICT ({len(nonstrict)}): {', '.join(nonstrict)}")
        if args.strict:
            for c in nonstrict:
                describe(c)
    if missing:
        print(f"\nMISSING from the report ({len(missing)}):")
        shown = missing if len(missing) <= 40 else missing[:40]
        for c in shown:
            why = ("per-case timeout" if c in timeouts else
                   f"driver error: {driver_errors[c]}" if c in driver_errors else
                   "not finished: overall deadline hit" if run.get("deadlineHit") else
                   f"not finished: interrupted ({run['interrupted']})" if run.get("interrupted") else
                   "not run" if run else "not in report")
            print(f"  {c:<9} {why}")
        if len(shown) < len(missing):
            print(f"  ... and {len(missing) - len(shown)} more")
    if extra:
        print(f"\nnote: {len(extra)} case(s) in the report were not selected: {', '.join(extra[:20])}")
    if args.slowest > 0 and cases:
        slow = sorted(cases.values(), key=lambda r: -(r.get("duration") or 0))[: args.slowest]
        print("\nSlowest cases: " + ", ".join(f"{r['id']} {r.get('duration', 0)} ms" for r in slow))

    problems = []
    if failed:
        problems.append(f"{len(failed)} FAILED")
    if missing:
        problems.append(f"{len(missing)} missing")
    if run and not run.get("complete", True):
        problems.append("run incomplete" + (" (deadline hit)" if run.get("deadlineHit") else "")
                        + (f" (interrupted: {run['interrupted']})" if run.get("interrupted") else ""))
    if bad_close and not args.allow_bad_close:
        problems.append(f"{len(bad_close)} bad close verdict(s)")
    if nonstrict and args.strict:
        problems.append(f"{len(nonstrict)} NON-STRICT (--strict)")
    if unimpl and args.fail_on_unimplemented:
        problems.append(f"{len(unimpl)} UNIMPLEMENTED (--fail-on-unimplemented)")

    if not args.no_json:
        summary = {
            "reportDir": os.path.abspath(args.report_dir),
            "agents": agents,
            "selected": len(selected),
            "sections": table,
            "total": grand,
            "failed": failed,
            "unimplemented": unimpl,
            "nonStrict": nonstrict,
            "badClose": bad_close,
            "missing": missing,
            "durationsMs": {c: cases[c].get("duration") for c in sorted(cases, key=sort_key)},
            "passed": not problems,
            "problems": problems,
        }
        try:
            with open(os.path.join(args.report_dir, "summary.json"), "w") as f:
                json.dump(summary, f, indent=2)
        except OSError as exc:
            print(f"autobahn-summary: could not write summary.json: {exc}", file=sys.stderr)

    print()
    if problems:
        print("RESULT: FAIL - " + "; ".join(problems))
        return 1
    print(f"RESULT: PASS - {grand['total']} cases, none failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
