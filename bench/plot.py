"""The benchmark's picture: throughput and latency per configuration, and the socket test."""

from __future__ import annotations

from pathlib import Path


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    loads = [r for r in report["load"] if r["webhooks_per_s"]]
    socks = [s for s in report["sockets"] if s.get("sockets_open")]
    targets = report["targets"]
    fig, axes = plt.subplots(1, 3, figsize=(18, 6))
    fig.suptitle(f"Flash-sale benchmark ({report['mode']}, {report['when']}, {report['machine']['cores']} cores, "
                 f"concurrency {report['settings']['concurrency']})")

    ax = axes[0]
    names = [r["name"] for r in loads]
    colors = ["#888888" if r["floor"] else "#1f77b4" for r in loads]
    ax.barh(names, [r["webhooks_per_s"] for r in loads], color=colors)
    ax.axvline(targets["webhooks_per_s"], color="red", linestyle="--", label=f"target {targets['webhooks_per_s']}/s")
    if report.get("floor_webhooks_per_s"):
        ax.axvline(report["floor_webhooks_per_s"] * targets["fraction_of_floor"], color="orange", linestyle=":",
                   label=f"{targets['fraction_of_floor']} of the floor")
    for i, r in enumerate(loads):
        label = f" {r['webhooks_per_s']:.0f}"
        if r.get("fraction_of_floor"):
            label += f" ({r['fraction_of_floor']:.2f} of floor)"
        ax.text(r["webhooks_per_s"], i, label, va="center", fontsize=8)
    ax.set_xlabel("signed webhooks per second (sustained)")
    ax.invert_yaxis()
    ax.legend(loc="lower right", fontsize=8)

    ax = axes[1]
    y = range(len(loads))
    ax.barh([i - 0.2 for i in y], [r["ack_p99_ms"] or 0.1 for r in loads], height=0.4, label="ack p99")
    ax.barh([i + 0.2 for i in y], [r["e2e_p99_ms"] or 0.1 for r in loads], height=0.4, label="end-to-end p99")
    ax.set_xlim(left=1)
    ax.set_yticks(list(y), names)
    ax.axvline(targets["ack_p99_ms"], color="red", linestyle="--", label=f"ack target {targets['ack_p99_ms']} ms")
    ax.set_xscale("log")  # acks are tens of ms, a lagging layer's end-to-end tail tens of seconds
    ax.set_xlabel("milliseconds (p99, log scale)")
    ax.invert_yaxis()
    ax.legend(loc="lower right", fontsize=8)

    ax = axes[2]
    if socks:
        snames = [s["name"] for s in socks]
        ax.bar([i - 0.2 for i in range(len(socks))], [s["rss_per_socket_kb"] or 0 for s in socks], width=0.4,
               label="KB RSS per socket", color="#2ca02c")
        ax.axhline(targets["rss_per_socket_kb"], color="green", linestyle="--", label="30 KB target")
        ax2 = ax.twinx()
        ax2.bar([i + 0.2 for i in range(len(socks))], [s["broadcast_p99_ms"] or 0 for s in socks], width=0.4,
                label="broadcast p99 ms", color="#9467bd")
        ax2.axhline(targets["broadcast_p99_ms"], color="purple", linestyle=":", label="1 s target")
        ax2.set_ylabel("one event to all: p99 ms")
        ax.set_xticks(range(len(socks)), snames, rotation=20, fontsize=8)
        ax.set_ylabel("KB resident per open socket")
        ax.set_title(f"{socks[0]['sockets_wanted']} sockets held")
        # Head-room above the bars for the legend, drawn on the twin axis (which is drawn last).
        ax.set_ylim(0, 1.4 * max([s["rss_per_socket_kb"] or 0 for s in socks] + [targets["rss_per_socket_kb"]]))
        ax2.set_ylim(0, 1.4 * max([s["broadcast_p99_ms"] or 0 for s in socks] + [targets["broadcast_p99_ms"]]))
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax2.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper left", ncol=2, framealpha=0.9)
    else:
        ax.text(0.5, 0.5, "no socket test", ha="center")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
