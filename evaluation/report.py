"""Rendering of metrics: a markdown table and an accuracy-vs-tokens plot (one point per row)."""

from __future__ import annotations

from cort.io import write_text_atomic


def _n(m: dict) -> str:
    return next(k.split("@")[1] for k in m if k.startswith("avg@") and not k.endswith("lenient"))


def write_markdown(metrics: dict, path: str) -> str:
    """A table of the headline metrics per benchmark; returns it."""
    rows = ["| name | n | avg@n | pass@n | mj@n | avg@n (lenient) | avg tokens | code calls/resp | code error rate "
            "| delayed comp. | code distrust |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for source, m in metrics.items():
        n = _n(m)
        rows.append(f"| {source} | {m['sample_size']}x{n} | {m[f'avg@{n}']:.3f} | {m[f'pass@{n}']:.3f} | "
                    f"{m[f'mj@{n}']:.3f} | {m[f'avg@{n}_lenient']:.3f} | {m['avg_tokens_overall_response']:.0f} | "
                    f"{m['code_calls_per_response']:.2f} | {m['code_error_rate']:.2f} | "
                    f"{m['share_delayed_computation']:.2f} | {m['share_code_distrust']:.2f} |")
    table = "\n".join(rows) + "\n"
    write_text_atomic(path, table)
    return table


def write_plot(metrics: dict, path: str, title: str = "") -> None:
    """Accuracy (avg@n) against average response tokens, one point per benchmark."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for source, m in metrics.items():
        n = _n(m)
        x, y = m["avg_tokens_overall_response"], m[f"avg@{n}"]
        ax.scatter([x], [y], s=60)
        ax.annotate(source, (x, y), textcoords="offset points", xytext=(5, 5))
    ax.set_xlabel("average tokens per response")
    ax.set_ylabel("accuracy (avg@n)")
    ax.set_ylim(-0.05, 1.05)
    ax.set_title(title or "accuracy vs tokens")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
