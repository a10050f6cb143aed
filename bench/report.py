#!/usr/bin/env python3
"""Markdown report of one bench/run.sh results directory (stdlib only).

  python3 bench/report.py bench/results/<stamp>

Reads load.jsonl (one JSON line per workload, written by the peers' driver `--json-out`),
failures.tsv (workloads whose driver stopped, written by run.sh) and meta.txt (machine notes).
The first table compares idp with the peer: req/s, p50, p99, and the ratio idp/peer of req/s
(median over runs when there are several). The second table has every row of every run with its
errors and CPU figures, so noise ("other CPU") is visible next to each number.
"""
from __future__ import annotations

import json
import os
import re
import statistics
import sys

TARGETS = ("idp", "peer")


def load_jsonl(path: str) -> list[dict]:
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def load_failures(path: str) -> list[dict]:
    out = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                parts = line.rstrip("\n").split("\t", 4)
                if len(parts) == 5:
                    out.append(dict(zip(("run", "target", "workload", "rc", "why"), parts)))
    return out


def split_label(label: str) -> tuple[str, str]:
    m = re.match(r"(run\d+)\s+(\S+)", label)
    return (m.group(1), m.group(2)) if m else ("run1", label)


def num(v, nd: int = 0) -> str:
    if v is None:
        return "–"
    return f"{v:,.{nd}f}"


def rate(v) -> str:
    if v is None:
        return "–"
    return num(v, 1 if v < 100 else 0)


def lat(v, engine: str) -> str:
    if v is None:
        return "–"
    if engine == "autocannon":  # whole-ms histogram: 0 means "under 1 ms"
        return "<1" if v == 0 else num(v, 0)
    return num(v, 1) if v >= 10 else num(v, 2)


def med(vals: list) -> float | None:
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def main(d: str) -> None:
    rows = load_jsonl(os.path.join(d, "load.jsonl"))
    fails = load_failures(os.path.join(d, "failures.tsv"))
    by: dict[tuple[str, str], list[dict]] = {}  # (target, workload) -> rows of every run
    order: list[str] = []
    for r in rows:
        run, target = split_label(r["label"])
        r["_run"], r["_target"] = run, target
        by.setdefault((target, r["workload"]), []).append(r)
        if r["workload"] not in order:
            order.append(r["workload"])
    for f in fails:
        if f["workload"] not in order:
            order.append(f["workload"])
    runs = sorted({r["_run"] for r in rows} | {f["run"] for f in fails}, key=lambda s: int(s[3:]))
    failed = {(f["target"], f["workload"]) for f in fails}

    print(f"# idp vs peer (oidc-provider): {os.path.basename(os.path.normpath(d))}\n")
    meta = os.path.join(d, "meta.txt")
    if os.path.exists(meta):
        with open(meta) as f:
            keep = [ln.rstrip() for ln in f if re.match(r"(cpus|node|oidc-provider|load average|settings|repo):", ln)]
        for ln in keep:
            print(f"- {ln}")
        print()
    many = len(runs) > 1
    print(f"Throughput counts successful responses only (authcode: complete login flows/s, each flow several HTTP "
          f"requests). Latency in ms ({'median over ' + str(len(runs)) + ' runs' if many else 'one run'}); "
          f"autocannon rows have 1 ms resolution (<1 = under 1 ms). ratio = idp req/s ÷ peer req/s "
          f"(> 1: idp faster).\n")
    print("| workload | idp req/s | idp p50 | idp p99 | peer req/s | peer p50 | peer p99 | ratio (idp/peer req/s) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for wl in order:
        cells, rates = [], {}
        for t in TARGETS:
            rs = by.get((t, wl), [])
            if not rs:
                cells += ["FAILED" if (t, wl) in failed else "–", "–", "–"]
                rates[t] = None
                continue
            eng = rs[0]["engine"]
            rates[t] = med([r.get("ok_rps") for r in rs])
            cell = rate(rates[t])
            if wl == "authcode":
                cell += f" flows ({rate(med([r.get('http_rps') for r in rs]))} http)"
            if any(r.get("errors") for r in rs):
                cell += f" ⚠{sum(r.get('errors') or 0 for r in rs)} err"
            cells += [cell, lat(med([r.get("p50_ms") for r in rs]), eng), lat(med([r.get("p99_ms") for r in rs]), eng)]
        ratio = (f"{rates['idp'] / rates['peer']:.2f}×" if rates.get("idp") is not None and rates.get("peer") else "–")
        print(f"| {wl} | " + " | ".join(cells) + f" | {ratio} |")

    print("\n## Every row\n")
    print("CPU in % of one core: srv = the server's process tree (pinned to one core, so ~100 = saturated), "
          "drv = the driver, other = the rest of the machine during the run (noise from other processes).\n")
    print("| run | target | workload | engine | ok req/s | p50 | p90 | p99 | errors | srv CPU | drv CPU | other CPU | notes |")
    print("|---|---|---|---|---:|---:|---:|---:|---|---:|---:|---:|---|")
    for run in runs:
        for t in TARGETS:
            for wl in order:
                r = next((x for x in by.get((t, wl), []) if x["_run"] == run), None)
                if r is None:
                    f = next((x for x in fails if (x["run"], x["target"], x["workload"]) == (run, t, wl)), None)
                    if f:
                        print(f"| {run} | {t} | {wl} | – | FAILED | | | | rc={f['rc']} | | | | {f['why'].replace('|', '/')} |")
                    continue
                eng = r["engine"]
                rr = rate(r.get("ok_rps"))
                if r.get("http_rps") is not None:
                    rr += f" ({rate(r['http_rps'])} http)"
                errs = str(r.get("errors") or 0)
                if r.get("errors"):
                    errs += " " + json.dumps(r.get("error_kinds") or {})
                notes = []
                if r.get("extra"):
                    notes.append(", ".join(f"{k}={v}" for k, v in r["extra"].items()))
                notes.append(f"{r.get('duration_s')} s")
                print(f"| {run} | {t} | {wl} | {eng} | {rr} | {lat(r.get('p50_ms'), eng)} | {lat(r.get('p90_ms'), eng)} | "
                      f"{lat(r.get('p99_ms'), eng)} | {errs} | {num(r.get('server_cpu_pct'))} | {num(r.get('driver_cpu_pct'))} | "
                      f"{num(r.get('other_cpu_pct'))} | {'; '.join(notes)} |")
    if fails:
        print("\n## Workloads that did not run\n")
        for f in fails:
            print(f"- {f['run']} {f['target']} {f['workload']} (driver rc={f['rc']}): `{f['why']}`")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
