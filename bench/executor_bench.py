"""Executor benchmark: a multi-turn workload through cort's kernel pool vs an original-style baseline.

Workload: T trajectories x C cells; half the trajectories use sympy, every cell after the
first reads state from earlier cells. Two executors run it:

- ``cort``: :class:`cort.executor.JupyterExecutor`, one kernel session per trajectory
  (state kept in the kernel), ``--kernels`` sessions at a time.
- ``baseline``: the original CoRT design, a fresh process pool per round of cells
  (``batch_apply``) running ``exec()``; the "jupyter" mode re-runs the trajectory's earlier
  cells (prints removed, as the original's emulation does) before the new one.

Both must print the same outputs; the script checks that, then prints a markdown table with
wall time, cells/s and the ratio, plus kernel start time and median single-cell latency.

    python bench/executor_bench.py --trajectories 64 --cells 6
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cort.executor import ExecutorConfig, JupyterExecutor
from cort.executor.kernel import Kernel

LIGHT_SYMPY = [
    "import sympy as sp\nn = {i} + 10\nprint(n)",
    "f = sp.factorint(n * 9973)\nprint(f)",
    "x = sp.symbols('x')\ne = sp.expand((x + n) ** 6)\nprint(e.coeff(x, 3))",
    "ps = [p for p in range(2, 3000) if sp.isprime(p)]\nprint(len(ps) + n)",
    "s = sp.summation(sp.Symbol('k') ** 2, (sp.Symbol('k'), 1, n))\nprint(s)",
    "print(sum(f.values()), e.coeff(x, 0) % 97, s % 1000)",
]
LIGHT_MATH = [
    "import math\nn = {i} + 10\nprint(n)",
    "b = sum(k * k for k in range(n * 2000))\nprint(b % 1000)",
    "g = math.gcd(b, 10 ** 6 + n)\nprint(g)",
    "c = math.comb(n + 20, 10)\nprint(c)",
    "fib = [0, 1]\nfor _ in range(n * 10):\n    fib.append(fib[-1] + fib[-2])\nprint(fib[-1] % 10 ** 9)",
    "print((b + c + fib[-1]) % 1000003)",
]
# Cells with the work typical of CoRT traces (a sympy solve, an expansion, a brute-force count).
TYPICAL_SYMPY = [
    "import sympy as sp\nn = {i} + 10\nx, y = sp.symbols('x y')\nprint(n)",
    "sol = sp.solve([x**2 + y**2 - n**2, x - y - 1], [x, y])\nprint(len(sol))",
    "poly = sp.expand((x + y + n) ** 16)\nprint(len(poly.args))",
    "count = sum(1 for a in range(1, 900) for b in range(a, 900) if (a * a + b * b) % n == 0)\nprint(count)",
    "r = sp.nsimplify(sp.sqrt(n) * 2).evalf(40)\nprint(str(r)[:12])",
    "print(count + len(sol) + len(poly.args))",
]
TYPICAL_MATH = [
    "import math\nn = {i} + 10\nprint(n)",
    "pyth = [(a, b) for a in range(1, 700) for b in range(a, 700) if math.isqrt(a*a + b*b) ** 2 == a*a + b*b]\nprint(len(pyth))",
    "sieve = bytearray([1]) * (n * 60000)\nsieve[:2] = b'\\x00\\x00'\nfor p in range(2, math.isqrt(len(sieve)) + 1):\n    if sieve[p]:\n        sieve[p*p::p] = bytearray(len(sieve[p*p::p]))\nprint(sum(sieve))",
    "ways = [1] + [0] * (n * 800)\nfor coin in (1, 2, 5, 10, 20, 50):\n    for v in range(coin, len(ways)):\n        ways[v] += ways[v - coin]\nprint(ways[-1] % 10 ** 9)",
    "digits = math.factorial(n * 300) % (10 ** 9 + 7)\nprint(digits)",
    "print((len(pyth) + sum(sieve) + digits) % 1000003)",
]
WORKLOADS = {"light": (LIGHT_SYMPY, LIGHT_MATH), "typical": (TYPICAL_SYMPY, TYPICAL_MATH)}


def workload(kind: str, n_traj: int, n_cells: int) -> list[list[str]]:
    """Cells of each trajectory (half use sympy); later cells use variables of earlier ones."""
    sympy_cells, math_cells = WORKLOADS[kind]
    trajs = []
    for i in range(n_traj):
        cells = [c.replace("{i}", str(i)) for c in (sympy_cells if i % 2 == 0 else math_cells)]
        trajs.append((cells * ((n_cells + 5) // 6))[:n_cells])
    return trajs


# -- original-style baseline ----------------------------------------------------------------
def _remove_prints(program: str) -> str:
    return "\n".join(ln for ln in program.split("\n") if not ln.strip().startswith("print("))


def _exec_program(program: str) -> tuple[str, str]:
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            exec(program, {"__name__": "__main__"})
        return buf.getvalue().strip(), ""
    except Exception as err:  # noqa: BLE001
        return "", f"{type(err).__name__}: {err}"


def run_baseline(trajs: list[list[str]], workers: int) -> tuple[float, list[list[str]]]:
    """Round-synchronous: each round a new process pool runs every trajectory's program."""
    outputs: list[list[str]] = [[] for _ in trajs]
    start = time.perf_counter()
    for k in range(len(trajs[0])):
        programs = ["\n".join([_remove_prints(c) for c in t[:k]] + [t[k]]) for t in trajs]
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for i, (res, report) in enumerate(pool.map(_exec_program, programs)):
                outputs[i].append(res or report)
    return time.perf_counter() - start, outputs


# -- cort ---------------------------------------------------------------------------------
def run_cort(trajs: list[list[str]], kernels: int, preload: str) -> tuple[float, list[list[str]]]:
    """One session per trajectory; ``kernels`` trajectories in flight at a time."""
    cfg = ExecutorConfig(max_kernels=kernels, warm_kernels=kernels, preload=preload, timeout=60)
    with JupyterExecutor(cfg) as ex:
        deadline = time.monotonic() + 120
        while len(ex.pool._idle) < kernels and time.monotonic() < deadline:  # measure warm
            time.sleep(0.05)

        def one(i: int) -> list[str]:
            with ex.open(f"bench-{i}") as session:
                return [session.run(c).model_text() for c in trajs[i]]

        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=kernels) as threads:
            outputs = list(threads.map(one, range(len(trajs))))
        return time.perf_counter() - start, outputs


def kernel_start_and_latency(n_start: int = 5, n_cells: int = 60) -> tuple[float, float]:
    """Median kernel start time (s) and median latency of ``print(1+1)`` (ms)."""
    home = tempfile.mkdtemp(prefix="cort-bench-")
    cfg = ExecutorConfig()
    starts = []
    for _ in range(n_start):
        t0 = time.perf_counter()
        kernel = Kernel(cfg, home)
        starts.append(time.perf_counter() - t0)
        kernel.shutdown()
    kernel = Kernel(cfg, home)
    lat = []
    for _ in range(n_cells):
        t0 = time.perf_counter()
        kernel.run("print(1+1)")
        lat.append((time.perf_counter() - t0) * 1000)
    kernel.shutdown()
    return statistics.median(starts), statistics.median(lat)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trajectories", type=int, default=64)
    ap.add_argument("--cells", type=int, default=6)
    ap.add_argument("--kernels", type=int, default=ExecutorConfig().max_kernels)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="baseline processes")
    ap.add_argument("--preload", default="import sympy, math", help="imports warm kernels load ahead")
    ap.add_argument("--workloads", default="light,typical")
    args = ap.parse_args()

    start_s, latency_ms = kernel_start_and_latency()
    rows, failed = [], False
    for kind in args.workloads.split(","):
        trajs = workload(kind, args.trajectories, args.cells)
        n = sum(len(t) for t in trajs)
        t_cort, out_cort = run_cort(trajs, args.kernels, args.preload)
        t_base, out_base = run_baseline(trajs, args.workers)
        same = out_cort == out_base
        failed |= not same
        rows.append(f"| {kind} | {n} | {t_base:.2f} | {n / t_base:.1f} | {t_cort:.2f} | {n / t_cort:.1f} "
                    f"| {t_base / t_cort:.2f}x | {same} |")
    print(f"\n{args.trajectories} trajectories x {args.cells} cells, state carried between cells; "
          f"{os.cpu_count()} CPUs; cort: {args.kernels} warm kernels (preload: {args.preload!r}); "
          f"baseline: {args.workers} processes, a new pool per round, earlier cells re-run\n")
    print("| workload | cells | baseline wall s | baseline cells/s | cort wall s | cort cells/s | speed-up | same outputs |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    print("\n".join(rows))
    print(f"\nkernel start (median of 5): {start_s:.3f} s; median latency of print(1+1) over 60 cells: {latency_ms:.2f} ms")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
