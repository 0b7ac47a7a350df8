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

COLORS = {"wsgate": "#2b6cb0", "hummingbird": "#dd6b20", "gorilla": "#38a169", "gorilla hub": "#38a169", "node ws": "#d53f8c",
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
        runs = max(row["runs"] for case in cases for by_client in summary[case]["rows"].values()
                   for row in by_client.values())
        footer = f"{machine['cores']} cores, {machine['cpu']}; medians of {runs} runs, min–max bars"
        # One panel per case, each on its own scale: 64 B and 16 KiB rates differ tenfold.
        figure, panels = plt.subplots(1, len(cases), figsize=(max(5.5, 3.2 * len(cases)), 4.4), squeeze=False)
        for panel, case in zip(panels[0], cases):
            labels, heights, low, high, colors, alphas = [], [], [], [], [], []
            for server, client in series:
                row = summary[case]["rows"].get(server, {}).get(client)
                if not row:
                    continue
                labels.append(f"{server}\n({client.replace('gorilla client', 'Go client')})")
                heights.append(row["median"])
                low.append(row["median"] - row["min"])
                high.append(row["max"] - row["median"])
                colors.append(COLORS.get(server, "#718096"))
                alphas.append(1.0 if client == "wsgate bench" else 0.5)
            bars = panel.bar(range(len(heights)), heights, 0.8, yerr=[low, high], capsize=2, color=colors,
                             edgecolor="black", linewidth=0.4)
            for bar, alpha in zip(bars, alphas):
                bar.set_alpha(alpha)
            panel.set_xticks(range(len(labels)))
            panel.set_xticklabels(labels, fontsize=6.5, rotation=90)
            panel.set_title(case, fontsize=9)
            panel.grid(axis="y", alpha=0.3)
            panel.tick_params(axis="y", labelsize=7)
        figure.suptitle(title + "\nsolid: driven by wsgate bench, pale: by the Go gorilla client", fontsize=10)
        figure.text(0.99, 0.01, footer, ha="right", fontsize=7, color="#555555")
        figure.tight_layout(rect=(0, 0.03, 1, 0.98))
        figure.savefig(out / f"{name}.png", dpi=110)
        plt.close(figure)
        print(out / f"{name}.png")


if __name__ == "__main__":
    main()
