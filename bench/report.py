#!/usr/bin/env python3
"""Markdown report of one bench/run.sh results directory (stdlib only).

  python3 bench/report.py bench/results/<stamp>

Reads load.jsonl (one JSON line per workload, written by the peers' driver `--json-out`),
failures.tsv (workloads whose driver stopped, written by run.sh), connection.tsv (whether each
server kept connections alive) and meta.txt (machine notes).

The first table compares idp with the peer, one row per (workload, engine): req/s, p50, p99 and
the ratio idp/peer of req/s (medians over runs when there are several). The second table lists
every row of every run with its errors and CPU figures, so noise ("other CPU") is visible next to
each number.
"""
from __future__ import annotations

import json
import os
import re
import statistics
import sys

TARGETS = ("idp", "peer")
FIELDS_FAIL = ("run", "target", "workload", "engine", "rc", "why")


def load_jsonl(path: str) -> list[dict]:
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def load_tsv(path: str, fields: tuple[str, ...]) -> list[dict]:
    out = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                parts = line.rstrip("\n").split("\t", len(fields) - 1)
                if len(parts) == len(fields):
                    out.append(dict(zip(fields, parts, strict=False)))
    return out


def split_label(label: str) -> tuple[str, str]:
    m = re.match(r"(run\d+)\s+(\S+)", label)
    return (m.group(1), m.group(2)) if m else ("run1", label)


def num(v, nd: int = 0) -> str:
    if v is None:
        return "–"
    out = f"{v:,.{nd}f}"
    return out[1:] if out.startswith("-") and not out.strip("-0.,") else out  # "-0" -> "0"


def rate(v) -> str:
    return "–" if v is None else num(v, 1 if v < 100 else 0)


def lat(v, engine: str) -> str:
    if v is None:
        return "–"
    if engine == "autocannon":  # whole-ms histogram: 0 means "under 1 ms"
        return "<1" if v == 0 else num(v, 0)
    return num(v, 1) if v >= 10 else num(v, 2)


def med(vals: list):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def argon2_line(d: str, by: dict[tuple[str, str, str], list[dict]]) -> None:
    """The code flow against the core's argon2id limit (one hash per flow; issue 12 asks >= 75 %)."""
    path = os.path.join(d, "argon2.txt")
    if not os.path.exists(path):
        return
    with open(path) as f:
        per_second = float(f.read().split()[0])
    flows = med([r.get("ok_rps") for r in by.get(("idp", "authcode", "aiohttp"), [])])
    line = f"\nargon2id alone on the server's core (the IdP's own parameters): {per_second:.1f} checks/s"
    if flows:
        line += f"; the code flow reached {flows:.1f} flows/s = {100 * flows / per_second:.0f} % of that limit"
    print(line + ".")


def main(d: str) -> None:
    rows = load_jsonl(os.path.join(d, "load.jsonl"))
    fails = load_tsv(os.path.join(d, "failures.tsv"), FIELDS_FAIL)
    closes = {(c["run"], c["target"]) for c in load_tsv(os.path.join(d, "connection.tsv"), ("run", "target", "conn"))
              if c["conn"] == "close"}
    by: dict[tuple[str, str, str], list[dict]] = {}  # (target, workload, engine) -> rows of every run
    order: list[tuple[str, str]] = []  # (workload, engine) in the order they ran
    for r in rows:
        run, target = split_label(r["label"])
        r["_run"], r["_target"] = run, target
        by.setdefault((target, r["workload"], r["engine"]), []).append(r)
        if (r["workload"], r["engine"]) not in order:
            order.append((r["workload"], r["engine"]))
    for f in fails:
        if (f["workload"], f["engine"]) not in order:
            order.append((f["workload"], f["engine"]))
    runs = sorted({r["_run"] for r in rows} | {f["run"] for f in fails}, key=lambda s: int(s[3:]))
    failed = {(f["target"], f["workload"], f["engine"]) for f in fails}

    def bad_latency(r: dict) -> bool:
        """autocannon against a server that closes every connection: its latencies are invalid."""
        return r["engine"] == "autocannon" and (r["_run"], r["_target"]) in closes

    print(f"# idp vs peer (oidc-provider 9, one core each): {os.path.basename(os.path.normpath(d))}\n")
    meta = os.path.join(d, "meta.txt")
    if os.path.exists(meta):
        with open(meta) as f:
            wanted = r"(cpus|node|oidc-provider|load average|settings|workloads|repo):"
            keep = [ln.rstrip() for ln in f if re.match(wanted, ln)]
        for ln in keep:
            print(f"- {ln}")
    others = [r["other_cpu_pct"] for r in rows if r.get("other_cpu_pct") is not None]
    if others:
        noisy = sum(1 for v in others if v > 30)
        print(f"- other CPU during the measured rows (load from outside the server and the driver, % of one core): "
              f"median {statistics.median(others):.0f} %, max {max(others):.0f} %; "
              f"{noisy} of {len(others)} rows above 30 %"
              f"{' (noisy: compare with care, rerun when the machine is idle)' if noisy else ''}")
    print()
    many = len(runs) > 1
    print("req/s counts successful responses only; authcode counts complete login flows/s (HTTP requests/s in "
          f"brackets). Latency in ms ({'median over ' + str(len(runs)) + ' runs' if many else 'one run'}); autocannon "
          "has 1 ms resolution (<1 = under 1 ms). ratio = idp req/s ÷ peer req/s (> 1: idp faster). "
          "authcode, refresh and userinfo always run on the aiohttp engine.\n")
    print("| workload | idp req/s | idp p50 | idp p99 | peer req/s | peer p50 | peer p99 | ratio (idp/peer req/s) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    footnote = False
    for wl, eng in order:
        cells, rates = [], {}
        for t in TARGETS:
            rs = by.get((t, wl, eng), [])
            if not rs:
                cells += ["FAILED" if (t, wl, eng) in failed else "–", "–", "–"]
                rates[t] = None
                continue
            rates[t] = med([r.get("ok_rps") for r in rs])
            cell = rate(rates[t])
            if wl == "authcode":
                cell += f" flows ({rate(med([r.get('http_rps') for r in rs]))} http)"
            nerr = sum(r.get("errors") or 0 for r in rs)
            if nerr:
                cell += f" ({nerr} err)"
            if any(bad_latency(r) for r in rs):
                footnote = True
                cells += [cell, "n/a¹", "n/a¹"]
            else:
                cells += [cell, lat(med([r.get("p50_ms") for r in rs]), eng),
                          lat(med([r.get("p99_ms") for r in rs]), eng)]
        ratio = f"{rates['idp'] / rates['peer']:.2f}×" if rates.get("idp") is not None and rates.get("peer") else "–"
        print(f"| {wl} ({eng}) | " + " | ".join(cells) + f" | {ratio} |")
    argon2_line(d, by)
    if footnote:
        print("\n¹ This server answers every request with `Connection: close` "
              "(gunicorn's sync worker has no keep-alive). "
              "autocannon then writes its next request onto the closing socket and never drops it from its queue, so "
              "each later response is timed from an older request and its latencies grow with the run length: they "
              "are not reported. Its count of completed requests is still right. "
              "Read the latency from the aiohttp row.")

    print("\n## Every row\n")
    print("CPU in % of one core: srv = the server's process tree (pinned to one core, so ~100 = saturated), "
          "drv = the driver, other = the rest of the machine during the run (load from other processes: "
          "rows with a high value are unreliable).\n")
    print("| run | target | workload | engine | ok req/s | p50 | p90 | p99 | errors "
          "| srv CPU | drv CPU | other CPU | notes |")
    print("|---|---|---|---|---:|---:|---:|---:|---|---:|---:|---:|---|")
    for run in runs:
        for t in TARGETS:
            for wl, eng in order:
                r = next((x for x in by.get((t, wl, eng), []) if x["_run"] == run), None)
                if r is None:
                    key = (run, t, wl, eng)
                    f = next((x for x in fails if (x["run"], x["target"], x["workload"], x["engine"]) == key), None)
                    if f:
                        why = f["why"].replace("|", "/")
                        print(f"| {run} | {t} | {wl} | {eng} | FAILED | | | | rc={f['rc']} | | | | {why} |")
                    continue
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
                if bad_latency(r):
                    p50 = f"({lat(r.get('p50_ms'), eng)})¹"
                    p90 = f"({lat(r.get('p90_ms'), eng)})¹"
                    p99 = f"({lat(r.get('p99_ms'), eng)})¹"
                else:
                    p50, p90, p99 = (lat(r.get(k), eng) for k in ("p50_ms", "p90_ms", "p99_ms"))
                print(f"| {run} | {t} | {wl} | {eng} | {rr} | {p50} | {p90} | {p99} | {errs} | "
                      f"{num(r.get('server_cpu_pct'))} | {num(r.get('driver_cpu_pct'))} | "
                      f"{num(r.get('other_cpu_pct'))} | "
                      f"{'; '.join(notes)} |")
    if fails:
        print("\n## Workloads that did not run\n")
        for f in fails:
            print(f"- {f['run']} {f['target']} {f['workload']} ({f['engine']}, driver rc={f['rc']}): `{f['why']}`")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
