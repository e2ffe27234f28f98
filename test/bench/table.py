#!/usr/bin/env python3
"""The README's results table (Markdown) from test/bench/results.json.

    python3 test/bench/table.py [results.json]
"""
import json
import sys

d = json.load(open(sys.argv[1] if len(sys.argv) > 1 else "test/bench/results.json"))


def met(v, t, ge=True):
    return "yes" if (v >= t if ge else v < t) else "no"


rows = []


def row(name, wf, floor="", ratio="", target="", ok=""):
    rows.append(f"| {name} | {wf} | {floor} | {ratio} | {target} | {ok} |")


u, c, b = d["unbatched"], d["complete_claim"], d["batched"]
row("1. 5-step chains, unbatched (tasks/s)", u["pg_wf"], u["floor"], u["ratio"], "≥ 0.85",
    met(u["ratio"], 0.85))
row("1. the same, each runner completing and claiming in one call (`wf_task_complete_claim`: one commit per task)",
    c["pg_wf"], c["floor"], c["ratio"], "≥ 1.2", met(c["ratio"], 1.2))
if "notify_always" in d:
    a = d["notify_always"]
    row("1. unbatched with `pg_wf.notify = always` (the default; the rows above: `hungry`)",
        a["unbatched"]["pg_wf"], u["floor"], a["unbatched"]["ratio"], "≥ 0.85", met(a["unbatched"]["ratio"], 0.85))
    row("1. complete and claim in one call, `pg_wf.notify = always`",
        a["complete_claim"]["pg_wf"], u["floor"], a["complete_claim"]["ratio"], "≥ 1.2",
        met(a["complete_claim"]["ratio"], 1.2))
row("2. claim 100 + `wf_task_complete_batch`, on a 150,000-execution backlog (tasks/s)", b["pg_wf"], b["floor"],
    b["ratio"], "≥ 0.5", met(b["ratio"], 0.5))
cpu = d["server_cpu_us_per_task"]
for k, n in (("unbatched", "1. server CPU per task, unbatched: every backend of the run (µs)"),
             ("batched", "2. server CPU per task, batched (µs)")):
    row(n, cpu[k]["pg_wf"], cpu[k]["floor"], round(cpu[k]["pg_wf"] / max(cpu[k]["floor"], 1), 2))
w = d["width"]
row("3. one execution, fan-out + join: µs per task, 1000 wide vs 100 wide", w["fan1000_us_per_task"],
    f'{w["fan100_us_per_task"]} (100 wide)', w["ratio"], "linear", met(w["ratio"], 1.5, False))
row("3. one execution, for_each: µs per item, 10,000 vs 1,000 items", w["for_each_10000_us_per_item"],
    f'{w["for_each_1000_us_per_item"]} (1,000)', w["for_each_ratio"], "linear", met(w["for_each_ratio"], 1.5, False))
df = d["define"]
row("3. `wf_define` of a dense graph: µs per edge, 100,128 vs 10,011 edges", df["edges_100k_us_per_edge"],
    f'{df["edges_10k_us_per_edge"]} (10k)', df["ratio"], "linear", met(df["ratio"], 1.5, False))
s = d["delegate_storm"]
row("4. delegate storm: 10,000 callbacks from 8 sessions (callbacks/s)", s["callbacks_per_s"], "", "",
    "exactly once", "yes" if s["exactly_once"] else "no")
h = d["http_callbacks"]
row("4. the same storm over HTTP: `POST /tasks/{id}/complete` to `wf-runner --http`, 8 keep-alive connections (callbacks/s)",
    h["callbacks_per_s"], f'{h["sql_callbacks_per_s"]} (SQL)',
    round(h["callbacks_per_s"] / max(h["sql_callbacks_per_s"], 1), 2), "exactly once",
    "yes" if h["all_succeeded"] else "no")
sc = d["scale"]
row(f'5. workload 1 with {sc["finished_tasks"]:,} finished tasks in the tables vs empty (tasks/s)', sc["pg_wf"],
    sc["empty"], sc["ratio"], "≥ 0.9", met(sc["ratio"], 0.9))
lo, hi = d["latency_low"], d["latency_high"]
row("6. completion commit → next task claimed by a LISTENing runner, low load (ms)",
    f'p50 {lo["p50_ms"]:.2f}, p99 {lo["p99_ms"]:.2f}', "", "", "p99 < 5", met(lo["p99_ms"], 5, False))
row("6. the same under the workload-1 load (ms)", f'p50 {hi["p50_ms"]:.2f}, p99 {hi["p99_ms"]:.2f}', "", "",
    "p99 < 10", met(hi["p99_ms"], 10, False))
r = d["retention"]
row("7. workload 1 while the watchdog purges 1,000,000 old executions vs not (tasks/s), purge at a sixteenth of its time",
    r["pg_wf_purging"], r["pg_wf_not_purging"], r["ratio"], "≥ 0.8", met(r["ratio"], 0.8))
row("7. the purge's own rate (executions/s, each with 2 tasks and 4 history rows)", r["purge_per_s"])
bl = d["backlog"]
for kind in ("unbatched", "batched"):
    for n, key in (("100,000", "100000"), ("1,000,000", "1000000")):
        ratio = bl[kind]["ratio_100k" if key == "100000" else "ratio_1m"]
        row(f"8. {kind} with {n} vs 10,000 ready executions (tasks/s)", bl[kind][key], bl[kind]["10000"], ratio,
            "≥ 0.9", met(ratio, 0.9))
m = d["memory_kb"]
row("memory: a backend after 1000 completions / its compiled graph / the watchdog worker",
    f'{m["backend"]} kB / {m["graph"]} kB / {m["worker_private"]} kB private')
fe = d["foreach_100000_start"]
row("memory: a new backend starting a 100,000-item for_each (peak RSS, time)", f'{fe["peak_mb"]} MB, {fe["seconds"]} s')

print("| workload | pg_wf | floor | ratio | target | met |")
print("|---|---|---|---|---|---|")
print("\n".join(rows))
