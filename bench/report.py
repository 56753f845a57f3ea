"""Turns bench/run's JSON results into docs/BENCHMARKS.md (medians of the rounds, and ratios)."""
import datetime
import glob
import json
import os
import platform
import statistics
import subprocess
import sys

out, rounds, secs, conns = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]


def load(pattern):
    runs = []
    for path in sorted(glob.glob(os.path.join(out, pattern))):
        with open(path) as f:
            runs.append(json.load(f)["figures"])
    return runs


def median(runs, key):
    values = [r[key] for r in runs if key in r]
    return statistics.median(values) if values else None


def fmt(value, digits=1):
    if value is None:
        return "—"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def cpu():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


servers = [("chinwag", "chinwag (SQLite store on, limits on)"),
           ("socketio", "socket.io 4 tutorial server (Node " + subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip() + ")"),
           ("bare", "bare axum + tokio broadcast")]
through = {s: load(f"{s}-throughput-*.json") for s, _ in servers}
latency = {s: load(f"{s}-latency-*.json") for s, _ in servers}
conn_runs = {s: load(f"{s}-conns-*.json") for s, _ in servers}
conn = {s: {k: median(conn_runs[s], k) for k in ("conns_per_sec", "rss_per_conn_kib", "conns", "failed")}
        for s, _ in servers}
reconnect = (load("chinwag-reconnect.json") or [{}])[0]
returning_runs = load("chinwag-returning-*.json")
returning = {k: median(returning_runs, k) for k in ("conns_per_sec", "rss_per_conn_kib", "conns", "failed")}

print("# Benchmarks\n")
print(f"Measured {datetime.date.today().isoformat()} on {os.cpu_count()} cores ({cpu()}), "
      f"{round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB, Linux "
      f"{platform.release()}, everything on loopback, the load tool on the same machine. "
      f"Medians of {rounds} rounds of {secs} s each. The machine is shared and noisy: the ratios are "
      "the figures to read.\n")
print("Reproduce: `bench/run` (or `ROUNDS=5 SECS=20 bench/run`). It builds the release binaries, starts "
      "each server in turn, drives it with `chinwag-load` and rewrites this file.\n")
print("## Fan-out\n")
print("200 clients in one room, 4 of them sending. *Throughput*: each sender keeps at most 16 messages "
      "that have not yet reached all 199 receivers. *Latency*: 200 messages/s in all (about 40 000 "
      "deliveries/s), from send to receipt, measured by every receiver.\n")
print("| server | deliveries/s | × socket.io | × bare | p50 ms | p99 ms (at 200 msg/s) | p999 ms | max ms | lost | dup | out of order |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
base_io = median(through["socketio"], "deliveries_per_sec")
base_bare = median(through["bare"], "deliveries_per_sec")
for s, name in servers:
    d = median(through[s], "deliveries_per_sec")
    ratio_io = d / base_io if d and base_io else None
    ratio_bare = d / base_bare if d and base_bare else None
    lost = sum(r.get("lost", 0) for r in through[s] + latency[s])
    dup = sum(r.get("duplicated", 0) for r in through[s] + latency[s])
    ooo = sum(r.get("out_of_order", 0) for r in through[s] + latency[s])
    print(f"| {name} | {fmt(d)} | {fmt(ratio_io, 2)} | {fmt(ratio_bare, 2)} | "
          f"{fmt(median(latency[s], 'latency_p50_ms'), 2)} | {fmt(median(latency[s], 'latency_p99_ms'), 2)} | "
          f"{fmt(median(latency[s], 'latency_p999_ms'), 2)} | {fmt(median(latency[s], 'latency_max_ms'), 2)} | "
          f"{int(lost)} | {int(dup)} | {int(ooo)} |")
print("\nLost, duplicated and out-of-order are summed over all rounds of both fan-out runs. The bare "
      "server and socket.io drop messages for a reader that falls behind (bounded buffers); chinwag "
      "resyncs it from the store.\n")
print(f"## Idle connections ({conns})\n")
print("| server | connections/s | RSS per idle connection (KiB) | held | failed |")
print("|---|---:|---:|---:|---:|")
for s, name in servers:
    c = conn[s]
    print(f"| {name} | {fmt(c.get('conns_per_sec'))} | {fmt(c.get('rss_per_conn_kib'), 2)} | "
          f"{fmt(c.get('conns'))} | {fmt(c.get('failed'))} |")
print(f"| chinwag, returning sessions after a restart | {fmt(returning.get('conns_per_sec'))} | "
      f"{fmt(returning.get('rss_per_conn_kib'), 2)} | {fmt(returning.get('conns'))} | {fmt(returning.get('failed'))} |")
print("\nMedians of the rounds. chinwag's idle connections have said `hello` (a session each, as a real user); the others "
      "are connected websockets. *Returning sessions*: the same number of sessions made beforehand, "
      "the server restarted on its data (a deploy), and every one reconnecting at once with its "
      "token and `since`, as open tabs do.\n")
print("## Reconnect with catch-up (chinwag)\n")
print("100 clients drop; 200 messages are posted; all come back at once with `since`.\n")
print("| reconnected | catch-up p50 ms | catch-up max ms | all caught up (s) | lost | duplicated | out of order |")
print("|---:|---:|---:|---:|---:|---:|---:|")
r = reconnect
print(f"| {fmt(r.get('reconnected'))} | {fmt(r.get('catch_up_p50_ms'), 2)} | {fmt(r.get('catch_up_max_ms'), 2)} | "
      f"{fmt(r.get('all_caught_up_secs'), 2)} | {fmt(r.get('lost'))} | {fmt(r.get('duplicated'))} | {fmt(r.get('out_of_order'))} |")

first_load = {}
if os.path.exists(os.path.join(out, "first-load.json")):
    with open(os.path.join(out, "first-load.json")) as f:
        first_load = json.load(f)
# chinwag's nickname page and chat page (the first two); the tutorial's page last.
pages = first_load.get("pages", [])
chinwag_pages = [p for p in pages if p["label"].startswith("chinwag")]
page_total = max((p["total_br"] for p in chinwag_pages), default=None)
if pages:
    print("\n## First page load (release build)\n")
    print("`bench/first-load`: each page and every asset it names, as served with `Accept-Encoding: br` "
          "(chinwag precompresses its assets at build time with brotli at its highest level), a cold "
          "cache. The chat page is `/r/general` for a session whose room holds 50 messages, which the "
          "server renders into the page. The tutorial's Express sends its files uncompressed; "
          "the *gzip -9* and *brotli 11* columns compress the same bytes here so the two can be compared "
          "(its CDN served jQuery gzipped).\n")
    for p in pages:
        print(f"**{p['label']}**\n")
        print("| asset | bytes on the wire | gzip -9 | brotli 11 | uncompressed |")
        print("|---|---:|---:|---:|---:|")
        for r in p["rows"]:
            print(f"| `{r['asset']}` | {fmt(r['br'], 0)} | {fmt(r['gzip9'], 0)} | {fmt(r['br11'], 0)} | {fmt(r['raw'], 0)} |")
        print(f"| **total** | **{fmt(p['total_br'], 0)}** | **{fmt(sum(r['gzip9'] for r in p['rows']), 0)}** | "
              f"**{fmt(sum(r['br11'] for r in p['rows']), 0)}** | {fmt(sum(r['raw'] for r in p['rows']), 0)} |\n")
    cache = next((r["cache_control"] for p in chinwag_pages for r in p["rows"] if "/pkg/" in r["asset"]), "")
    if cache:
        print(f"chinwag's hashed assets are served with `Cache-Control: {cache}`: a returning visitor "
              "downloads only the page.")
fm = first_load.get("first_message")
if fm and fm.get("chinwag"):
    print("\n## Time to first message (headless Chromium, same run)\n")
    print(f"From navigation to a composer that can send, a fresh browser context (cold cache) per load, "
          f"{fm['rounds']} loads of each page, alternating. chinwag: `/r/general` with 50 messages, hydrated "
          "and its websocket welcomed. The tutorial: its socket.io connection up (`connect`), jQuery loaded.\n")
    print("| page | median ms | fastest ms | slowest ms |")
    print("|---|---:|---:|---:|")
    for key, label in (("chinwag", "chinwag chat page"), ("seed", "socket.io 1.2.0 tutorial")):
        t = fm[key]
        print(f"| {label} | {t['median_ms']:.0f} | {t['min_ms']:.0f} | {t['max_ms']:.0f} |")
twiggy_path = os.path.join(out, "twiggy.txt")
if os.path.exists(twiggy_path):
    print("\n## Where the wasm's bytes go (twiggy, by crate)\n")
    print("`twiggy top` on the wasm before wasm-bindgen and wasm-opt (so uncompressed, pre-optimisation "
          "sizes), summed by the crate each function's name starts with (`bench/twiggy-crates.py`).\n")
    print("```")
    with open(twiggy_path) as f:
        print(f.read().rstrip())
    print("```")


cluster_dir = os.path.join(out, "cluster")


def load_plain(pattern):
    runs = []
    for path in sorted(glob.glob(os.path.join(cluster_dir, pattern))):
        with open(path) as f:
            doc = json.load(f)
        runs.append(doc.get("figures", doc))
    return runs


if os.path.isdir(cluster_dir):
    print("\n## Several servers (PostgreSQL store, Redis bus)\n")
    print("`bench/cluster`: the same fan-out (200 clients, 4 senders) with clients and senders spread "
          "round-robin over 1, 2 or 3 chinwag servers on this machine, all on one PostgreSQL database "
          "(fresh per run) and, for 2 and 3, one Redis the script starts. *Same server* / *cross "
          "server*: latency of messages whose sender is on the receiver's server / on another. CPU: "
          "what each kind of process spent during the throughput run, per message delivered to a "
          "client. Every process shares the same 2 cores, so more servers here means more processes "
          "competing for them, not more capacity: the table shows the cost of the bus, not scaling.\n")
    print("| servers | deliveries/s | p50 ms | p99 ms (200 msg/s) | same-server p99 ms | cross-server p99 ms "
          "| lost | dup | out of order | CPU µs/delivery: chinwag (all) | per chinwag | Redis | PostgreSQL |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in (1, 2, 3):
        th = load_plain(f"fanout-{n}-*.json")
        la = load_plain(f"latency-{n}-*.json")
        cpu_runs = load_plain(f"cpu-{n}-*.json")
        if not th:
            continue
        d = median(th, "deliveries_per_sec")
        delivered = [r["deliveries_per_sec"] * float(secs) for r in th]
        per = lambda key: statistics.median(c[key] / dl * 1e6 for c, dl in zip(cpu_runs, delivered)) if cpu_runs else None
        nodes_us, redis_us, pg_us = per("nodes"), per("redis"), per("postgres")
        lost = sum(r.get("lost", 0) for r in th + la)
        dup = sum(r.get("duplicated", 0) for r in th + la)
        ooo = sum(r.get("out_of_order", 0) for r in th + la)
        print(f"| {n} | {fmt(d)} | {fmt(median(la, 'latency_p50_ms'), 2)} | {fmt(median(la, 'latency_p99_ms'), 2)} | "
              f"{fmt(median(la, 'latency_same_server_p99_ms'), 2)} | {fmt(median(la, 'latency_cross_server_p99_ms'), 2)} | "
              f"{int(lost)} | {int(dup)} | {int(ooo)} | {fmt(nodes_us, 2)} | "
              f"{fmt(nodes_us / n if nodes_us is not None else None, 2)} | "
              f"{fmt(redis_us if n > 1 else None, 2)} | {fmt(pg_us, 2)} |")
    hold = (load_plain("hold.json") or [{}])[0]
    holders = load_plain("hold-*.json")
    if hold and holders:
        held = sum(h.get("conns", 0) for h in holders)
        failed = sum(h.get("failed", 0) for h in holders)
        print(f"\n### {fmt(hold.get('conns'))} connections across {hold.get('nodes')} servers\n")
        print(f"{hold.get('procs')} load processes (one process may hold 20,000 files here) open new "
              "sessions round-robin over the servers, all in `general`; then one client posts 5 probes, "
              "2 s apart, and every held connection records when each reached it.\n")
        print("| held | failed | connections/s (all) | people online (as a server sees them) | RSS: chinwag (all) MiB "
              "| per connection KiB | Redis MiB |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        secs_to_ready = hold.get("connect_secs") or 0
        rate = held / secs_to_ready if secs_to_ready else None
        nodes_mib = hold.get("nodes_rss_kib", 0) / 1024
        print(f"| {fmt(held)} | {fmt(failed)} | {fmt(rate)} | {fmt(hold.get('people_online'))} | {fmt(nodes_mib)} | "
              f"{fmt(hold.get('nodes_rss_kib', 0) / held if held else None, 2)} | "
              f"{fmt(hold.get('redis_rss_kib', 0) / 1024)} |")
        print("\n| probe | reached | p50 ms | p99 ms | max ms (the last of all) |")
        print("|---:|---:|---:|---:|---:|")
        for k in range(5):
            got = sum(h.get(f"probe{k}_received", 0) for h in holders)
            if not got:
                continue
            p50 = statistics.median(h[f"probe{k}_p50_ms"] for h in holders if f"probe{k}_p50_ms" in h)
            p99 = max(h[f"probe{k}_p99_ms"] for h in holders if f"probe{k}_p99_ms" in h)
            mx = max(h[f"probe{k}_max_ms"] for h in holders if f"probe{k}_max_ms" in h)
            print(f"| {k + 1} | {fmt(got)} | {fmt(p50, 1)} | {fmt(p99, 1)} | {fmt(mx, 1)} |")
        print("\np50 is the median of the load processes' medians; p99 and max are the worst process's.\n")

print("\n## Against the targets\n")
chin_d = median(through["chinwag"], "deliveries_per_sec")
chin_p99 = median(latency["chinwag"], "latency_p99_ms")
chin_rss = conn["chinwag"].get("rss_per_conn_kib")


def verdict(ok):
    return "met" if ok else "**missed**"


rows = []
if chin_d and base_io:
    rows.append(("fan-out deliveries/s ≥ 2.5× socket.io", f"{chin_d / base_io:.2f}×", verdict(chin_d / base_io >= 2.5)))
if chin_d and base_bare:
    rows.append(("fan-out deliveries/s ≥ 1.0× bare broadcast", f"{chin_d / base_bare:.2f}×", verdict(chin_d / base_bare >= 1.0)))
if chin_p99 is not None:
    rows.append(("p99 ≤ 12 ms at 200 msg/s into 200 clients", f"{chin_p99:.2f} ms", verdict(chin_p99 <= 12)))
if chin_rss is not None:
    rows.append((f"≤ 6 KiB RSS per idle connection (at {conns})", f"{chin_rss:.2f} KiB", verdict(chin_rss <= 6)))
ret_rate = returning.get("conns_per_sec")
bare_rate = conn["bare"].get("conns_per_sec")
if ret_rate and bare_rate:
    rows.append(("returning sessions' connections/s ≥ 0.5× the bare server's", f"{ret_rate / bare_rate:.2f}×",
                 verdict(ret_rate / bare_rate >= 0.5)))
if page_total:
    rows.append(("first load of `/` and `/r/general` ≤ 123 KB (brotli)", f"{page_total / 1000:.0f} KB",
                 verdict(page_total <= 123_000)))
if fm and fm.get("chinwag") and fm.get("seed"):
    rows.append(("time to first message ≤ the tutorial's", f"{fm['chinwag']['median_ms']:.0f} ms vs {fm['seed']['median_ms']:.0f} ms",
                 verdict(fm["chinwag"]["median_ms"] <= fm["seed"]["median_ms"])))
print("| target | measured | |")
print("|---|---:|---|")
for target, value, ok in rows:
    print(f"| {target} | {value} | {ok} |")
notes_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "NOTES.md")
if os.path.exists(notes_path):
    print()
    with open(notes_path) as f:
        print(f.read().rstrip())
