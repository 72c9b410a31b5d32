"""Draws the flagship demo's plots from the CSV files it wrote: python3 plots.py OUT_DIR."""
import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def overoptimization(out):
    by_method = defaultdict(list)
    for r in rows(f"{out}/overoptimization.csv"):
        by_method[r["method"]].append(r)
    fig, ax = plt.subplots(figsize=(6, 4))
    for k, (method, rs) in enumerate(by_method.items()):
        x = [float(r["sqrt_kl"]) for r in rs]
        ax.plot(x, [float(r["proxy"]) for r in rs], "o:", color=f"C{k}", label=f"{method}: proxy reward")
        ax.plot(x, [float(r["gold"]) for r in rs], "s-", color=f"C{k}", label=f"{method}: gold reward")
    ax.set_xlabel("sqrt(KL(pi || pi_ref))")
    ax.set_ylabel("reward")
    ax.set_title("Overoptimization: proxy vs gold reward")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(f"{out}/overoptimization.png", dpi=120)


def beta_tradeoff(out):
    by_method = defaultdict(list)
    for r in rows(f"{out}/beta_tradeoff.csv"):
        by_method[r["method"]].append(r)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for k, (method, rs) in enumerate(by_method.items()):
        beta = [float(r["beta"]) for r in rs]
        axes[0].plot(beta, [float(r["gold"]) for r in rs], "o-", color=f"C{k}", label=f"{method} gold")
        axes[0].plot(beta, [float(r["proxy"]) for r in rs], "x:", color=f"C{k}", label=f"{method} proxy")
        axes[1].plot(beta, [float(r["kl"]) for r in rs], "o-", color=f"C{k}", label=method)
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("beta")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("reward")
    axes[1].set_ylabel("KL(pi || pi_ref)")
    fig.suptitle("The beta trade-off: reward against distance from the reference")
    fig.tight_layout()
    fig.savefig(f"{out}/beta_tradeoff.png", dpi=120)


def reliability(out):
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0.5, 1], [0.5, 1], "k:", label="perfect calibration")
    by_scaling = defaultdict(list)
    for r in rows(f"{out}/reliability.csv"):
        by_scaling[r["scaling"]].append(r)
    for name, rs in by_scaling.items():
        ax.plot([float(r["confidence"]) for r in rs], [float(r["accuracy"]) for r in rs], "o-",
                label=f"{name} temperature scaling")
    ax.set_xlabel("confidence of the reward model's preference")
    ax.set_ylabel("agreement with a held-out annotator")
    ax.set_title("Reliability diagram")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(f"{out}/reliability.png", dpi=120)


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "build/demo"
    overoptimization(out)
    beta_tradeoff(out)
    reliability(out)
    print(f"plots in {out}: overoptimization.png beta_tradeoff.png reliability.png")
