#!/usr/bin/env python3
"""Autobahn TestSuite client cases: kosoku's fuzzingserver mode against a client under test.

Usage: autobahn_client.py --outdir DIR [--cases LIST] [--exclude LIST] [--timeout SECS] -- CLIENT [ARGS...]

Starts the fuzzing server on a free port of 127.0.0.1, runs CLIENT with "{url}" in its arguments
replaced by the server's ws:// URL (the client reads /getCaseCount, runs /runCase?case=N for each case
and asks /updateReports), then writes kosoku's report (index.json and per-case files, the format
scripts/autobahn_summary.py reads) into DIR. Exit status: 0 when the client ran every case, 1 when it
failed or timed out, 2 on bad arguments. Verdicts are judged by autobahn_summary.py.
"""
from __future__ import annotations

import argparse
import asyncio
import glob
import os
import sys

from kosoku import FailureError, run_fuzzingserver
from kosoku._report import write_reports


def encode_text_for_cases_12_and_13() -> None:
    """kosoku 0.1.0's fuzzing server hands a text message to the case as `str`; the vendored cases 12.*
    and 13.* (Autobahn's case12_x_x.py) hash it as py2 bytes, and every text case ends in an ERROR
    ("Strings must be encoded before hashing") whatever the client did. Give those cases the message's
    UTF-8 bytes, as their own decode expects: the verdict is then about the client's echo again."""
    import kosoku.cases as cases

    for case_id, case in cases.CASES.items():
        if not case_id.startswith(("12.", "13.")) or getattr(case.onMessage, "encodes_text", False):
            continue
        original = case.onMessage

        def on_message(self, message, binary, _original=original):
            if isinstance(message, str):
                message = message.encode("utf-8")
            return _original(self, message, binary)

        on_message.encodes_text = True
        case.onMessage = on_message


def patterns(text: str) -> list[str]:
    return [p.strip() for p in text.replace(" ", ",").split(",") if p.strip()]


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--outdir", required=True)
    parser.add_argument("--cases", default="")
    parser.add_argument("--exclude", default="")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("client", nargs="+")
    args = parser.parse_args()

    encode_text_for_cases_12_and_13()
    os.makedirs(args.outdir, exist_ok=True)
    for pattern in ("*_case_*.json", "*_case_*.html", "index.json", "index.html", "autobahn-run.json"):
        for path in glob.glob(os.path.join(args.outdir, pattern)):
            os.remove(path)
    failed = False
    results = None
    try:
        async with run_fuzzingserver(
            patterns(args.cases) or None, patterns(args.exclude) or None, host="127.0.0.1", port=0
        ) as server:
            url = f"ws://{server.address}:{server.port}"
            command = [part.replace("{url}", url) for part in args.client]
            print(f"autobahn-client: fuzzing server at {url}; running {' '.join(command)}", flush=True)
            client = await asyncio.create_subprocess_exec(*command)
            try:
                code = await asyncio.wait_for(client.wait(), args.timeout)
            except asyncio.TimeoutError:
                client.kill()
                await client.wait()
                print(f"autobahn-client: the client did not finish within {args.timeout:.0f} s", file=sys.stderr)
                return 1
            if code != 0:
                print(f"autobahn-client: the client exited with status {code}", file=sys.stderr)
                failed = True
            try:
                results = await asyncio.wait_for(server.get_result(), 60)
            except asyncio.TimeoutError:
                # A client that never asked for /updateReports (it failed before the cases) leaves none.
                print("autobahn-client: the fuzzing server has no results (did the client run the cases?)",
                      file=sys.stderr)
                return 1
    except FailureError as failure:
        # Raised when a case FAILED; the summary lists them.
        results = failure.results
    if results:
        write_reports(results, args.outdir)
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
