"""Markdown tables of a benchmark result: `python -m bench.report [bench/results/latest.json]`."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _f(v, suffix=""):
    return "–" if v is None else f"{v}{suffix}"


def tables(report: dict) -> str:
    out = ["| configuration | webhooks/s | ack p50 / p99 ms | end-to-end p50 / p99 ms | events delivered | stock exact "
           "| CPU ms/webhook: server / PostgreSQL | of the floor |",
           "| --- | ---: | ---: | ---: | ---: | :---: | ---: | ---: |"]
    for r in report["load"]:
        delivered = (f"{r['events_delivered']}/{r['events_expected']}" if r.get("events_expected") is not None
                     else "–")
        exact = "yes" if r["stock_exact"] and r["movements_exact"] and r.get("movement_chain_unbroken") else (
            "–" if r["stock_exact"] is None else "**no**")
        rate = f" (offered {r['offered_rate']:.0f}/s)" if r.get("offered_rate") else ""
        out.append(f"| {r['name']} | {r['webhooks_per_s']:.0f}{rate} | {_f(r['ack_p50_ms'])} / {_f(r['ack_p99_ms'])} | "
                   f"{_f(r['e2e_p50_ms'])} / {_f(r['e2e_p99_ms'])} | {delivered} | {exact} | "
                   f"{_f(r.get('server_cpu_ms_per_webhook'))} / {_f(r.get('db_cpu_ms_per_webhook'))} | "
                   f"{_f(r.get('fraction_of_floor'))} |")
    if report.get("sockets"):
        out += ["", "| sockets | open / wanted | opened per s | KB RSS per socket | one event to all: p50 / p99 / max ms "
                    "| delivered |",
                "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for s in report["sockets"]:
            resumed = f" (+{s['told_to_resume']} closed with 4503: resume)" if s.get("told_to_resume") else ""
            out.append(f"| {s['name']} | {s['sockets_open']} / {s['sockets_wanted']} | {_f(s.get('connect_per_s'))} | "
                       f"{_f(s['rss_per_socket_kb'])} | {_f(s['broadcast_p50_ms'])} / {_f(s['broadcast_p99_ms'])} / "
                       f"{_f(s['broadcast_max_ms'])} | {s['delivered']}{resumed} |")
    return "\n".join(out)


if __name__ == "__main__":
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/results/latest.json")
    print(tables(json.loads(path.read_text())))
