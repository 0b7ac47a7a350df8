#!/usr/bin/env python3
"""Plots Benchmarks/run.py's results.json: one PNG per benchmark, medians as bars, min–max as
error bars, one bar per server and client.

    .venv-bench/bin/python Benchmarks/plot.py Benchmarks/results/results.json Benchmarks/results
"""
import json
import pathlib
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"wsgate": "#2b6cb0", "hummingbird": "#dd6b20", "gorilla": "#38a169", "gorilla hub": "#38a169",
          "websocketd": "#805ad5"}
GROUPS = [
    ("echo", "Echo: messages per second (higher is better)", lambda case: case.startswith("echo")),
    ("broadcast", "Broadcast: deliveries per second (higher is better)", lambda case: case.startswith("broadcast")),
    ("relay", "Process relay through cat: sessions per second (higher is better)",
     lambda case: case.startswith("process")),
    ("idle", "Memory per idle connection: KiB of server RSS (lower is better)", lambda case: case.startswith("idle")),
]


def main():
    report = json.loads(pathlib.Path(sys.argv[1]).read_text())
    out = pathlib.Path(sys.argv[2])
    summary = report["summary"]
    machine = report["machine"]
    footer = f"{machine['cores']} cores, {machine['cpu']}; medians of {report['arguments']['runs']} runs, min–max bars"
    for name, title, belongs in GROUPS:
        cases = [case for case in summary if belongs(case)]
        if not cases:
            continue
        series = []
        for case in cases:
            for server, by_client in summary[case]["rows"].items():
                for client in by_client:
                    if (server, client) not in series:
                        series.append((server, client))
        width = 0.8 / len(series)
        figure, axes = plt.subplots(figsize=(max(6, 2.4 * len(cases) + 2), 4.2))
        for index, (server, client) in enumerate(series):
            xs, heights, low, high = [], [], [], []
            for position, case in enumerate(cases):
                row = summary[case]["rows"].get(server, {}).get(client)
                if not row:
                    continue
                xs.append(position - 0.4 + width * (index + 0.5))
                heights.append(row["median"])
                low.append(row["median"] - row["min"])
                high.append(row["max"] - row["median"])
            axes.bar(xs, heights, width * 0.95, yerr=[low, high], capsize=2, color=COLORS.get(server, "#718096"),
                     alpha=1.0 if client == "wsgate bench" else 0.55, edgecolor="black", linewidth=0.4,
                     label=f"{server} ({client})")
        axes.set_xticks(range(len(cases)))
        axes.set_xticklabels(cases)
        axes.set_title(title, fontsize=11)
        axes.grid(axis="y", alpha=0.3)
        axes.legend(fontsize=7, ncol=2)
        figure.text(0.99, 0.01, footer, ha="right", fontsize=7, color="#555555")
        figure.tight_layout(rect=(0, 0.03, 1, 1))
        figure.savefig(out / f"{name}.png", dpi=110)
        plt.close(figure)
        print(out / f"{name}.png")


if __name__ == "__main__":
    main()
