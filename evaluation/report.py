"""Rendering of metrics: a markdown table and an accuracy-vs-tokens plot, original and strict grading side by side."""

from __future__ import annotations

import re

from cort.io import write_text_atomic


def _n(m: dict) -> str:
    return next(k.split("@")[1] for k in m if re.fullmatch(r"avg@\d+", k))


def _with_ci(m: dict, key: str) -> str:
    ci = m.get(f"{key}_ci95") or []
    return f"{m[key]:.3f} [{ci[0]:.2f}, {ci[1]:.2f}]" if len(ci) == 2 else f"{m[key]:.3f}"


def write_markdown(metrics: dict, path: str) -> str:
    """A table of the headline metrics per benchmark (avg@n with its 95% bootstrap interval); returns it.

    ``avg@n``, ``pass@n``, ``mj@n`` are the original's (math_verify over the whole response); the
    ``strict`` columns grade only the final answer.
    """
    rows = ["| name | n | avg@n [95% CI] | pass@n | mj@n | avg@n strict [95% CI] | pass@n strict | mj@n strict "
            "| avg tokens | code calls/resp | code error rate | delayed comp. | code distrust |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for source, m in metrics.items():
        n = _n(m)
        rows.append(f"| {source} | {m['sample_size']}x{n} | {_with_ci(m, f'avg@{n}')} | {m[f'pass@{n}']:.3f} | "
                    f"{m[f'mj@{n}']:.3f} | {_with_ci(m, f'avg@{n}_strict')} | {m[f'pass@{n}_strict']:.3f} | "
                    f"{m[f'mj@{n}_strict']:.3f} | {m['avg_tokens_overall_response']:.0f} | "
                    f"{m['code_calls_per_response']:.2f} | {m['code_error_rate']:.2f} | "
                    f"{m['share_delayed_computation']:.2f} | {m['share_code_distrust']:.2f} |")
    table = "\n".join(rows) + "\n"
    write_text_atomic(path, table)
    return table


def write_plot(metrics: dict, path: str, title: str = "") -> None:
    """Accuracy (avg@n, original and strict grading) against average response tokens, per benchmark."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (source, m) in enumerate(metrics.items()):
        n = _n(m)
        x, y, ys = m["avg_tokens_overall_response"], m[f"avg@{n}"], m[f"avg@{n}_strict"]
        color = f"C{i % 10}"
        ax.scatter([x], [y], s=60, color=color, marker="o", label="original grading" if i == 0 else None)
        ax.scatter([x], [ys], s=60, color=color, marker="x", label="strict grading" if i == 0 else None)
        ax.annotate(source, (x, y), textcoords="offset points", xytext=(5, 5))
    ax.set_xlabel("average tokens per response")
    ax.set_ylabel("accuracy (avg@n)")
    ax.set_ylim(-0.05, 1.05)
    ax.set_title(title or "accuracy vs tokens")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
