#!/usr/bin/python3
"""Markdown tables (and a bandwidth-roofline PNG) from a benchmark result file.

  make_table.py merge --alignkit A.json ... [--peer P.json ...] [--meta KEY=VALUE ...] --out R.json
      combines Google benchmark's JSON outputs (alignkit_bench, one file per round of the run) and
      peer_torch.py's JSON files into one result file, benchmarks/results/<date>.json;
  make_table.py table R.json [--png FIG.png]
      prints the markdown tables of that file (scripts/bench.sh writes them to <date>.md);
  make_table.py rounds
      prints the rounds of scripts/bench.sh, one per line: workload=peer workloads (comma-separated).

Times are medians (over the repetitions of the run). GB/s = counted bytes / median time, counted
bytes = every input read once + every output written once (../shared/peers/README.md). The
fraction of STREAM divides by the triad measured in the same run at the same working-set size
and thread count ("matched"), and by the triad at 768 MiB (far beyond L3: DRAM).
"""
import argparse
import json
import sys

# alignkit workload -> peer workloads of the same computation (first = the headline peer)
PEERS = {"gae": ["gae_loop", "gae_vec", "gae_loop_fused"], "grpo_adv": ["grpo_adv", "grpo_adv_trl"]}
ORDER = ["bt_loss", "dpo_sigmoid", "kto", "ppo_clip", "kl_k3", "gae", "grpo_adv", "token_logprob",
         "linear_head_logprob", "ece_binary", "ece_multiclass", "fleiss_kappa"]
MEMORY_BOUND = ["bt_loss", "dpo_sigmoid", "kto", "ppo_clip", "kl_k3", "grpo_adv", "ece_binary",
                "ece_multiclass", "fleiss_kappa"]
DRAM = "stream_768MiB"


def rounds():
    for w in ORDER:
        print(f"{w}={','.join(PEERS.get(w, [w]))}")


def merge(a):
    parts = [json.load(open(f)) for f in a.alignkit]
    alignkit = {"context": parts[0]["context"], "benchmarks": [b for g in parts for b in g["benchmarks"]]}
    res = {"meta": dict(kv.split("=", 1) for kv in a.meta), "alignkit": alignkit}
    res["peer"] = [r for f in a.peer for r in json.load(open(f))] if a.peer else None
    json.dump(res, open(a.out, "w"), indent=1)


def parse_alignkit(g):
    """{(workload, impl, type, threads): {ms, gbps, bytes, ...}} from Google benchmark JSON
    (the median aggregate when the run had repetitions)."""
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
    out = {}
    aggregated = {b["run_name"] for b in g["benchmarks"] if b.get("run_type") == "aggregate"}
    for b in g["benchmarks"]:
        if b["run_name"] in aggregated and b.get("aggregate_name") != "median":
            continue  # runs with repetitions: the median; runs of one repetition: the run itself
        if "error_occurred" in b and b["error_occurred"]:
            continue
        parts = b["run_name"].split("/")  # workload/impl/type/threads:N[/iterations:1/repeats:1]/real_time
        w, impl, typ = parts[:3]
        thr = next(x for x in parts if x.startswith("threads:"))
        t = b["real_time"] * scale[b["time_unit"]]
        rec = dict(s=t, bytes=b["counted_bytes"], gbps=b["counted_bytes"] / t / 1e9)
        if "flops" in b:
            rec["gflops"] = b["flops"] / 1e9
        if "peak_extra_bytes" in b:
            rec["peak_extra"] = b["peak_extra_bytes"]
        out[(w, impl, typ, int(thr.split(":")[1]))] = rec
    return out


def l3_bytes(g):
    return max((c["size"] for c in g["context"].get("caches", []) if c["level"] == 3), default=0)


def regime(nbytes, l3):
    if not l3:
        return "?"
    return "L3" if nbytes <= l3 else "DRAM"


def ms(x):
    return "–" if x is None else (f"{x * 1e3:.3g}" if x < 1 else f"{x * 1e3:,.0f}")


def pct(x):
    return "–" if x is None else f"{100 * x:.0f} %"


def ratio(x):
    return "–" if x is None else (f"{x:.0f}×" if x >= 100 else f"{x:.1f}×")


def table(a):
    res = json.load(open(a.result))
    g = res["alignkit"]
    ak = parse_alignkit(g)
    peer = {(r["workload"], r["threads"]): r for r in (res.get("peer") or []) if r.get("scale", 1) == 1}
    l3 = l3_bytes(g)
    get = lambda w, impl, typ, t: ak.get((w, impl, typ, t))
    kernels = [w for w in ORDER if get(w, "alignkit", "float", 1)]
    kernels += sorted({k[0] for k in ak if k[1] == "alignkit"} - set(kernels))
    lines = []
    p = lines.append
    meta = res.get("meta", {})
    ctx = g["context"]
    p(f"Machine: {meta.get('cpu', '?')}, {ctx['num_cpus']} cores, L3 {l3 / 2**20:.0f} MiB; "
      f"g++ {ctx.get('compiler', '?')} `{ctx.get('cxx_flags', '?')}`, SIMD {ctx.get('simd', '?')}; "
      f"peer: {meta.get('peer', 'not run')}.")
    p(f"Run {meta.get('date', ctx['date'])}, commit {meta.get('commit', '?')}, load average before "
      f"{meta.get('load_before', '?')}, after {meta.get('load_after', '?')}. Command: `{meta.get('command', '?')}`.")
    p("")
    p("### alignkit (fused kernel, float) vs the PyTorch eager peer, same machine, same run")
    p("")
    p("Times are medians in ms. Speed-up = peer time / alignkit time at the same thread count. "
      "% STREAM = alignkit GB/s / triad GB/s measured at the same working-set size and thread count "
      "(regime: L3 = the working set fits in L3, DRAM = it does not).")
    p("")
    p("| workload | counted MB | regime | 1 thr alignkit | 1 thr peer | 1 thr speed-up | 1 thr % STREAM "
      "| 2 thr alignkit | 2 thr peer | 2 thr speed-up | 2 thr % STREAM | alignkit 2/1 thr | STREAM 2/1 thr |")
    p("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for w in kernels:
        k1, k2 = get(w, "alignkit", "float", 1), get(w, "alignkit", "float", 2)
        t1, t2 = get(w, "stream_triad", "float", 1), get(w, "stream_triad", "float", 2)
        for pw in PEERS.get(w, [w]):
            cells = [w if pw == w else f"{w} (peer {pw})", f"{k1['bytes'] / 1e6:.1f}", regime(k1["bytes"], l3)]
            for k, t, thr in ((k1, t1, 1), (k2, t2, 2)):
                pr = peer.get((pw, thr))
                cells += [ms(k and k["s"]), ms(pr and pr["median_s"]),
                          ratio(pr["median_s"] / k["s"]) if pr and k else "–",
                          pct(k["gbps"] / t["gbps"]) if k and t and w in MEMORY_BOUND + ["gae", "token_logprob"] else "–"]
            cells += [ratio(k1["s"] / k2["s"]) if k1 and k2 else "–",
                      ratio(t2["gbps"] / t1["gbps"]) if t1 and t2 else "–"]
            p("| " + " | ".join(cells) + " |")
    flop_rows = [(w, t, r) for (w, impl, typ, t), r in ak.items() if impl == "alignkit" and "gflops" in r and typ == "float"]
    for w, t, r in sorted(flop_rows):
        pr = peer.get((w, t))
        p("")
        p(f"- {w}, {t} thr: alignkit {r['gflops']:.1f} GFLOP/s"
          + (f", peer {pr['gflops']:.1f} GFLOP/s" if pr and "gflops" in pr else ""))

    head_table(p, get, peer)

    p("")
    p("### Every kernel: float and double, raw scalar loop, STREAM at the matched size and in DRAM")
    p("")
    p("GB/s of alignkit (fused kernel) and of the triad probe at the same working-set size; "
      "raw loop = hand-written scalar loop of the same formula (1 thread).")
    p("")
    p("| workload | type | counted MB | regime | raw loop ms | alignkit 1 thr ms | vs raw loop | 1 thr GB/s "
      "| triad 1 thr GB/s | % matched | % DRAM triad | 2 thr GB/s | triad 2 thr GB/s | % matched | % DRAM triad |")
    p("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    dram = {t: get(DRAM, "stream_triad", "float", t) for t in (1, 2)}
    for w in kernels:
        for typ in ("float", "double"):
            k1, k2 = get(w, "alignkit", typ, 1), get(w, "alignkit", typ, 2)
            if not k1:
                continue
            rl = get(w, "raw_loop", typ, 1)
            cells = [w, typ, f"{k1['bytes'] / 1e6:.1f}", regime(k1["bytes"], l3), ms(rl and rl["s"]), ms(k1["s"]),
                     ratio(rl["s"] / k1["s"]) if rl else "–"]
            for k, t in ((k1, 1), (k2, 2)):
                tr = get(w, "stream_triad", typ, t)
                cells += [f"{k['gbps']:.1f}" if k else "–", f"{tr['gbps']:.1f}" if tr else "–",
                          pct(k["gbps"] / tr["gbps"]) if k and tr else "–",
                          pct(k["gbps"] / dram[t]["gbps"]) if k and dram[t] else "–"]
            p("| " + " | ".join(cells) + " |")
    raw_only = sorted({k[0] for k in ak if k[1] == "raw_loop"} - set(kernels))
    if raw_only:
        p("")
        p("Kernels not in the library at this commit (raw loop and probe measured only): " + ", ".join(raw_only) + ".")

    p("")
    p("### STREAM triad sweep (float arrays, OpenMP static, bytes as in STREAM)")
    p("")
    p("| working set MiB | 1 thr GB/s | 2 thr GB/s | 2/1 thr |")
    p("|---:|---:|---:|---:|")
    sweep = sorted({k[0] for k in ak if k[0].startswith("stream_") and k[0].endswith("MiB")},
                   key=lambda s: int(s[len("stream_"):-3]))
    for s in sweep:
        a1, a2 = get(s, "stream_triad", "float", 1), get(s, "stream_triad", "float", 2)
        p(f"| {s[len('stream_'):-3]} | {a1['gbps']:.1f} | {a2['gbps']:.1f} | {a2['gbps'] / a1['gbps']:.2f}× |"
          if a1 and a2 else f"| {s} | – | – | – |")

    p("")
    p("### Acceptance checks of the issue (float)")
    p("")
    for w in kernels:
        k1, k2 = get(w, "alignkit", "float", 1), get(w, "alignkit", "float", 2)
        t1, t2 = get(w, "stream_triad", "float", 1), get(w, "stream_triad", "float", 2)
        notes = []
        if k1 and t1 and (w in MEMORY_BOUND or w == "token_logprob"):
            f, need = k1["gbps"] / t1["gbps"], 0.5 if w == "token_logprob" else 0.7
            notes.append(f"{'PASS' if f >= need else 'FAIL'} {pct(f)} of matched STREAM, 1 thr (need {pct(need)})")
        for thr, k, t in ((1, k1, t1), (2, k2, t2)):
            pr = peer.get((PEERS.get(w, [w])[0], thr))
            if k and pr:
                x, need = pr["median_s"] / k["s"], 100 if w == "gae" else 5
                # the speed-up a kernel at 100 % of the matched triad would have: its bandwidth ceiling
                ceiling = f", ceiling {ratio(pr['median_s'] * t['gbps'] * 1e9 / k['bytes'])}" if t and x < need else ""
                notes.append(f"{'PASS' if x >= need else 'FAIL'} {ratio(x)} the peer, {thr} thr (need {need}×{ceiling})")
        if k1 and k2 and t1 and t2:
            x, bw = k1["s"] / k2["s"], t2["gbps"] / t1["gbps"]
            verdict = "n/a (STREAM itself < 1.6×)" if bw < 1.6 else ("PASS" if x >= 1.6 else "FAIL")
            notes.append(f"{verdict} 2 thr / 1 thr {ratio(x)} (STREAM {ratio(bw)}, need 1.6×)")
        p(f"- {w}: " + "; ".join(notes))
    print("\n".join(lines))
    if a.png:
        roofline(ak, peer, kernels, sweep, a.png)


def head_table(p, get, peer):
    """The chunked linear head against the same head through materialized [N, V] logits, with the
    same GEMM (Eigen; a CBLAS through the hook), and against the peer."""
    w = "linear_head_logprob"
    rows = [(t, gemm, get(w, c, "float", t), get(w, m, "float", t))
            for t in (1, 2) for gemm, c, m in (("Eigen", "alignkit", "materialized"),
                                               ("CBLAS hook (OpenBLAS)", "alignkit_cblas", "materialized_cblas"))]
    rows = [r for r in rows if r[2] and r[3]]
    if not rows:
        return
    mib = lambda r: f"{r['peak_extra'] / 2**20:,.0f}" if r and "peak_extra" in r else "–"
    p("")
    p("### Linear head [4096, 2048] · [2048, 32000]: chunked vs materialized logits (float, same run)")
    p("")
    p("Each computes logp, ∂L/∂hidden and ∂L/∂W with three GEMMs through the same GEMM hook. Chunked = "
      "`token::linear_head::logprob` (default tile 512 rows × V); materialized = logits and their gradient "
      "stored as two [N, V] arrays, then `token::logprob`. Peak extra = peak resident memory during the call "
      "minus the resident memory before it (inputs and outputs excluded, GEMM packing buffers included; the "
      "peer: its own peak-RSS delta). One call per measurement.")
    p("")
    p("| threads | GEMM | chunked s | materialized s | time chunked / materialized | chunked peak extra MiB "
      "| materialized peak extra MiB | memory chunked / materialized | check (≤ 1.1× time, ≤ 1/8 memory) "
      "| peer (torch eager, OpenBLAS) s | peer peak extra MiB | peer / chunked time |")
    p("|---:|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|")
    for t, gemm, c, m in rows:
        tr = c["s"] / m["s"]
        mr = c["peak_extra"] / m["peak_extra"] if "peak_extra" in c and "peak_extra" in m else None
        ok = tr <= 1.1 and mr is not None and mr <= 1 / 8
        pr = peer.get((w, t))
        cells = [str(t), gemm, f"{c['s']:.1f}", f"{m['s']:.1f}", f"{tr:.2f}×", mib(c), mib(m),
                 "–" if mr is None else f"1/{1 / mr:.1f}", "PASS" if ok else "FAIL",
                 f"{pr['median_s']:.1f}" if pr else "–",
                 f"{pr['peak_rss_delta_mib']:,.0f}" if pr and "peak_rss_delta_mib" in pr else "–",
                 ratio(pr["median_s"] / c["s"]) if pr else "–"]
        p("| " + " | ".join(cells) + " |")


def roofline(ak, peer, kernels, sweep, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(10, 6.5))
    for t, style in ((1, "-"), (2, "--")):
        pts = [(ak[(s, "stream_triad", "float", t)]["bytes"] / 2**20, ak[(s, "stream_triad", "float", t)]["gbps"])
               for s in sweep if (s, "stream_triad", "float", t) in ak]
        if pts:
            ax.plot(*zip(*pts), style, color="k", label=f"STREAM triad, {t} thr")
    for i, w in enumerate(kernels):
        c = f"C{i % 10}"
        for t, m in ((1, "o"), (2, "s")):
            k = ak.get((w, "alignkit", "float", t))
            if k:
                ax.plot(k["bytes"] / 2**20, k["gbps"], m, color=c, label=f"{w}" if t == 1 else None)
            pr = peer.get((PEERS.get(w, [w])[0], t))
            if pr:
                ax.plot(pr["bytes"] / 2**20, pr["gbps"], "x" if t == 1 else "+", color=c)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("working set (counted bytes), MiB")
    ax.set_ylabel("GB/s (counted bytes / median time)")
    ax.set_title("alignkit kernels (float; o 1 thr, s 2 thr) and PyTorch peer (x 1 thr, + 2 thr)\n"
                 "under the STREAM triad bandwidth ceiling of this machine")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, ncol=2, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("merge")
    m.add_argument("--alignkit", nargs="+", required=True)
    m.add_argument("--peer", nargs="+")
    m.add_argument("--meta", nargs="*", default=[])
    m.add_argument("--out", required=True)
    t = sub.add_parser("table")
    t.add_argument("result")
    t.add_argument("--png")
    sub.add_parser("rounds")
    a = ap.parse_args()
    {"merge": merge, "table": table, "rounds": lambda _: rounds()}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
