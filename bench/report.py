#!/usr/bin/env python3
"""Markdown report of one bench/run.sh results directory (stdlib only).

  python3 bench/report.py bench/results/<stamp>

Reads load.jsonl (one JSON line per workload, written by the peers' driver `--json-out`),
failures.tsv (workloads whose driver stopped, written by run.sh), connection.tsv (whether each
server kept connections alive) and meta.txt (machine notes).

The first table compares idp with the peer, one row per (workload, engine): req/s, p50, p99, the
ratio idp/peer of req/s (medians over runs when there are several) and the ratio the IdP must reach
(GOALS, the one place the goals live). When the run was profiled (PROFILE=1), every row short of
its goal is followed by where the IdP's CPU went in the measured window (profile-*.txt, py-spy's
collapsed stacks, summed by bench/profile_report.py). A workers run (WORKERS_LIST=1,2,4, targets
idp-w1, idp-w2, ...) prints the workers table instead: throughput, throughput per busy server
core and latency for each worker count, and whether the per-core throughput falls as workers are
added. The last table lists every row of every run with its errors and CPU figures, so noise
("other CPU") is visible next to each number.
"""
from __future__ import annotations

import json
import os
import re
import statistics
import sys
from pathlib import Path

import profile_report

TARGETS = ("idp", "peer")
# The goals: the IdP's req/s (flows/s for authcode) at least this share of the peer's.
GOALS = {"discovery": 1.0, "jwks": 1.0, "introspect": 0.5, "authcode": 1.0, "refresh": 1.0, "userinfo": 0.5}
# the workers table calls a per-core change "a fall" beyond this (noise between runs is larger than this on a
# shared host: see README)
PER_CORE_TOLERANCE = 0.10
TOP_FRAMES = 12
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

    seen = dict.fromkeys([r["_target"] for r in rows] + [f["target"] for f in fails])
    workers = sorted((t for t in seen if re.fullmatch(r"idp-w\d+", t)), key=lambda t: int(t[5:]))
    title = "the IdP by gunicorn workers, the peer on one core" if workers else "one core each"
    print(f"# idp vs peer (oidc-provider 9, {title}): {os.path.basename(os.path.normpath(d))}\n")
    meta = os.path.join(d, "meta.txt")
    if os.path.exists(meta):
        with open(meta) as f:
            wanted = r"(cpus|node|oidc-provider|load average|settings|workloads|repo|profiler):"
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
    if workers:
        workers_table(d, by, order, failed)
        every_row(rows, runs, ["peer", *workers], order, by, fails, closes)
        return
    print("| workload | idp req/s | idp p50 | idp p99 | peer req/s | peer p50 | peer p99 | ratio (idp/peer req/s) "
          "| goal | met |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    footnote = False
    short: list[tuple[str, str, float | None]] = []
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
        value = rates["idp"] / rates["peer"] if rates.get("idp") is not None and rates.get("peer") else None
        ratio = "–" if value is None else f"{value:.2f}×"
        goal = GOALS.get(wl)
        if goal is None:
            met = ""
        elif value is None:
            met, _ = "?", short.append((wl, eng, None))
        elif value >= goal:
            met = "yes"
        else:
            met, _ = "**no**", short.append((wl, eng, value))
        goal_cell = "" if goal is None else f"≥ {goal:.1f}×"
        print(f"| {wl} ({eng}) | " + " | ".join(cells) + f" | {ratio} | {goal_cell} | {met} |")
    argon2_line(d, by)
    if footnote:
        print("\n¹ This server answers every request with `Connection: close` "
              "(gunicorn's sync worker has no keep-alive). "
              "autocannon then writes its next request onto the closing socket and never drops it from its queue, so "
              "each later response is timed from an older request and its latencies grow with the run length: they "
              "are not reported. Its count of completed requests is still right. "
              "Read the latency from the aiohttp row.")
    short_of_goal(d, short)
    every_row(rows, runs, list(TARGETS), order, by, fails, closes)


def profile_files(d: str, target: str, wl: str, eng: str) -> list[Path]:
    return sorted(Path(d).glob(f"profile-run*-{target}-{wl}-{eng}.txt"))


def short_of_goal(d: str, short: list[tuple[str, str, float | None]]) -> None:
    """For each row short of its goal: where the IdP's CPU went in the measured windows (PROFILE=1)."""
    if not short:
        if os.path.exists(os.path.join(d, "load.jsonl")):
            print("\nEvery workload that ran meets its goal.")
        return
    print("\n## Where the IdP's time goes, for the rows short of their goal\n")
    profiled = any(Path(d).glob("profile-run*.txt"))
    if not profiled:
        why = Path(d, "profile-failures.txt")
        print("No profile in this run: rerun with `PROFILE=1` (py-spy in each measured window)"
              + (f". py-spy could not attach: {why.read_text().strip()}" if why.exists() else "") + ".")
        return
    print("py-spy (`--nonblocking --subprocesses`, 100 Hz unless PROFILE_RATE says otherwise) on the IdP's gunicorn "
          "master and workers during each measured window only (not the warm-up), summed over the runs. One sample "
          "= one thread the kernel showed as running or runnable (state R: on a core or queued for one), so the "
          "shares are shares of the IdP's demand for CPU. Threads waiting on a lock, the GIL, a socket or "
          "PostgreSQL are not sampled (PROFILE_ARGS=--idle adds them). "
          "**Layers** charge each sample to the innermost frame of a known library or of idp/ (stdlib frames count "
          "for their caller). **Self** = the frame is where the CPU was; **total** = the frame is on the stack. "
          "Open the files in https://www.speedscope.app or flamegraph.pl for the whole tree.")
    for wl, eng, value in short:
        files = profile_files(d, "idp", wl, eng)
        ratio = "no ratio (a side failed)" if value is None else f"{value:.2f}× against a goal of {GOALS[wl]:.1f}×"
        print(f"\n### {wl} ({eng}): {ratio}\n")
        if not files:
            print("no profile for this row (see failures, profile-failures.txt and the profile-*.log files)")
            continue
        summary = profile_report.load(files)
        print(window_line(files, summary.samples) + "\n")
        print(profile_report.render(summary, TOP_FRAMES), end="")


def window_line(files: list[Path], samples: int) -> str:
    """Samples, window length and py-spy's own count of torn stacks, from the sidecars profiled_driver.py writes."""
    seconds = expected = errors = 0.0
    for f in files:
        side = Path(f"{f}.json")
        if not side.exists():
            continue
        info = json.loads(side.read_text())
        seconds += info.get("window_s") or 0
        cmd = info.get("cmd") or []
        per_second = int(cmd[cmd.index("--rate") + 1]) if "--rate" in cmd else 100
        expected += (info.get("window_s") or 0) * per_second
        m = re.search(r"Errors: (\d+)", " ".join(info.get("py_spy_says") or []))
        errors += int(m.group(1)) if m else 0
    line = f"{samples:,} samples in {seconds:.1f} s of measured window ({', '.join(f.name for f in files)})"
    if expected:
        line += (f"; {samples / expected:.2f} threads running or runnable on average; "
                 f"{errors:,.0f} stacks py-spy could not read (--nonblocking) left out")
    return line


def workers_table(d: str, by: dict[tuple[str, str, str], list[dict]], order: list[tuple[str, str]],
                  failed: set[tuple[str, str, str]]) -> None:
    """One row per (workload, engine, worker count): the IdP's throughput per busy server core."""
    counts = sorted({int(t[5:]) for (t, _, _) in by if re.fullmatch(r"idp-w\d+", t)}
                    | {int(t[5:]) for (t, _, _) in failed if re.fullmatch(r"idp-w\d+", t)})
    print("The IdP with 1, 2, 4… gunicorn workers on SERVER_CPU (both cores by default); the peer once, on one "
          "core (PEER_CPU), as the reference. **per core** = req/s ÷ (server CPU % ÷ 100): requests per second "
          "per core the server kept busy. The driver shares a core with the server when SERVER_CPU covers "
          "DRIVER_CPU (the default here): its CPU is in the drv column, and that core's time is not the "
          "server's to use. Medians over runs.\n")
    print("| workload | server | workers | req/s | srv CPU % | per core | p50 ms | p99 ms | drv CPU % | other CPU % "
          "| ratio (÷ peer req/s) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    verdicts = []
    for wl, eng in order:
        peer = by.get(("peer", wl, eng), [])
        peer_rate = med([r.get("ok_rps") for r in peer])
        lines = [("peer", "1 process", peer)] + [(f"idp-w{n}", str(n), by.get((f"idp-w{n}", wl, eng), []))
                                                 for n in counts]
        per_core: dict[int, float] = {}
        for target, workers, rs in lines:
            if not rs:
                cells = ["FAILED" if (target, wl, eng) in failed else "–"] + ["–"] * 7
            else:
                rps = med([r.get("ok_rps") for r in rs])
                cpu = med([r.get("server_cpu_pct") for r in rs])
                pc = rps / (cpu / 100) if rps is not None and cpu else None
                if pc is not None and target.startswith("idp-w"):
                    per_core[int(workers)] = pc
                nerr = sum(r.get("errors") or 0 for r in rs)
                cells = [rate(rps) + (f" ({nerr} err)" if nerr else ""), num(cpu), rate(pc),
                         lat(med([r.get("p50_ms") for r in rs]), eng), lat(med([r.get("p99_ms") for r in rs]), eng),
                         num(med([r.get("driver_cpu_pct") for r in rs])),
                         num(med([r.get("other_cpu_pct") for r in rs]))]
                rate_ratio = rps / peer_rate if rps is not None and peer_rate and target != "peer" else None
                cells.append("" if rate_ratio is None else f"{rate_ratio:.2f}×")
            server = "peer" if target == "peer" else "idp"
            print(f"| {wl} ({eng}) | {server} | {workers} | " + " | ".join(cells) + " |")
        verdicts.append(per_core_verdict(wl, eng, per_core))
    print()
    for v in verdicts:
        print(f"- {v}")
    workers_layers(d, order, counts)


def workers_layers(d: str, order: list[tuple[str, str]], counts: list[int]) -> None:
    """With PROFILE=1: the IdP's layer shares per worker count, to see what grows as workers are added."""
    if not any(Path(d).glob("profile-run*-idp-w*.txt")):
        return
    print("\nWhere the IdP's CPU went (PROFILE=1; % of py-spy samples by layer, as in the idp-vs-peer report):\n")
    for wl, eng in order:
        shares = {n: profile_report.load(profile_files(d, f"idp-w{n}", wl, eng)) for n in counts}
        layers = [layer for layer in profile_report.Layer if any(dict(s.layers).get(layer) for s in shares.values())]
        if not layers:
            continue
        print(f"| {wl} ({eng}) by layer | " + " | ".join(f"{n} worker{'s' if n > 1 else ''}" for n in counts) + " |")
        print("|---|" + "---:|" * len(counts))
        for layer in layers:
            cells = [f"{s.percent(dict(s.layers).get(layer, 0)):.1f}" if s.samples else "–" for s in shares.values()]
            print(f"| {layer.value} | " + " | ".join(cells) + " |")
        print()


def per_core_verdict(wl: str, eng: str, per_core: dict[int, float]) -> str:
    """Does throughput per busy core fall as workers are added? (beyond PER_CORE_TOLERANCE of the fewest)"""
    if len(per_core) < 2:
        return f"{wl} ({eng}): fewer than two worker counts measured, no verdict."
    ns = sorted(per_core)
    base = per_core[ns[0]]
    steps = ", ".join(f"{n} → {per_core[n]:,.0f}" for n in ns)
    worst = min(ns[1:], key=lambda n: per_core[n])
    change = per_core[worst] / base - 1
    if change < -PER_CORE_TOLERANCE:
        verdict = (f"**falls**: {abs(change):.0%} less per core with {worst} workers than with {ns[0]} "
                   f"(more than the {PER_CORE_TOLERANCE:.0%} tolerance)")
    else:
        verdict = f"holds: {change:+.0%} at worst ({worst} workers against {ns[0]}, tolerance {PER_CORE_TOLERANCE:.0%})"
    return f"{wl} ({eng}) per-core req/s by workers: {steps}; {verdict}."


def every_row(rows: list[dict], runs: list[str], targets: list[str], order: list[tuple[str, str]],
              by: dict[tuple[str, str, str], list[dict]], fails: list[dict], closes: set[tuple[str, str]]) -> None:
    def bad_latency(r: dict) -> bool:
        return r["engine"] == "autocannon" and (r["_run"], r["_target"]) in closes

    print("\n## Every row\n")
    print("CPU in % of one core: srv = the server's process tree (pinned to its core(s): ~100 per core = saturated), "
          "drv = the driver, other = the rest of the machine during the run (load from other processes: "
          "rows with a high value are unreliable).\n")
    print("| run | target | workload | engine | ok req/s | p50 | p90 | p99 | errors "
          "| srv CPU | drv CPU | other CPU | notes |")
    print("|---|---|---|---|---:|---:|---:|---:|---|---:|---:|---:|---|")
    for run in runs:
        for t in targets:
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
