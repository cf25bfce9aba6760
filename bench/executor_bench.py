"""Executor benchmark: a multi-turn workload through cort's kernel pool vs an original-style baseline.

Workload: T trajectories x C cells; half the trajectories use sympy, every cell after the
first reads state from earlier cells. Two executors run it:

- ``cort``: :class:`cort.executor.JupyterExecutor`, one kernel session per trajectory
  (state kept in the kernel), ``--kernels`` sessions at a time.
- ``baseline``: the original CoRT design, a fresh process pool per round of cells
  (``batch_apply``) running ``exec()``; the "jupyter" mode re-runs the trajectory's earlier
  cells (prints removed, as the original's emulation does) before the new one.

- ``floor``: the physical floor, the same cells back to back in one bare Python process per core
  (state in a plain dict, no kernel, no isolation, no confinement).

All must print the same outputs; the script checks that, then prints markdown tables: wall time,
cells/s and the ratios against the baseline and the floor; p50/p99 latency and calls/s of a short
cell at 1, 8 and 64 concurrent sessions; session start (warm pool; and a kernel forked from the template:
wall time, its CPU and the driver's, sandbox on and off, beside the namespace reset that the earlier
kernel-reusing design paid instead) and the cost of the confinement calls themselves.

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

from cort import protocol
from cort.executor import ExecutorConfig, JupyterExecutor, cgroup
from cort.executor.kernel import Kernel, template_env
from cort.executor.zygote import Zygote

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


def _floor_trajectory(cells: list[str]) -> list[str]:
    namespace: dict = {"__name__": "__main__"}
    outputs = []
    for cell in cells:
        buf = io.StringIO()
        try:
            with contextlib.redirect_stdout(buf):
                exec(cell, namespace)
            outputs.append(protocol.postprocess(buf.getvalue(), ""))
        except Exception as err:  # noqa: BLE001
            outputs.append(f"{type(err).__name__}: {err}")
    return outputs


def run_floor(trajs: list[list[str]], workers: int) -> tuple[float, list[list[str]]]:
    """The same cells back to back, one bare Python process per core, nothing else."""
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pool.submit(int).result()  # processes up before the clock starts
        start = time.perf_counter()
        outputs = list(pool.map(_floor_trajectory, trajs))
    return time.perf_counter() - start, outputs


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


def _cpu_ms(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def kernel_start(sandbox: str, n_start: int = 9) -> dict:
    """The template's start (once), then per kernel forked from it: wall time to ready, its CPU, the driver's CPU.

    Medians over ``n_start`` kernels, started one at a time (no preload), each running one cell.
    """
    home = tempfile.mkdtemp(prefix="cort-bench-")
    cfg = ExecutorConfig(sandbox=sandbox)
    root = cgroup.pids_root() if sandbox == "on" else None
    with open(os.devnull, "ab") as log:
        zygote = Zygote(template_env(cfg, home), home, log, 60.0)
        t0 = time.perf_counter()
        zygote.start()
        template_s = time.perf_counter() - t0
        walls, kernel_cpu, driver_cpu, first, reset = [], [], [], [], []
        for _ in range(n_start):
            t0, c0 = time.perf_counter(), time.process_time()
            kernel = Kernel(cfg, home, zygote, root)
            walls.append((time.perf_counter() - t0) * 1000)
            driver_cpu.append((time.process_time() - c0) * 1000)
            kernel_cpu.append(_cpu_ms(kernel.pid))
            t1 = time.perf_counter()
            kernel.run("1")
            first.append((time.perf_counter() - t1) * 1000)
            t1 = time.perf_counter()
            kernel.run("get_ipython().run_line_magic('reset', '-f')")  # what reusing the kernel would cost
            reset.append((time.perf_counter() - t1) * 1000)
            kernel.shutdown()
        zygote.close()
    med = statistics.median
    return {"template_s": template_s, "wall_ms": med(walls), "kernel_cpu_ms": med(kernel_cpu),
            "driver_cpu_ms": med(driver_cpu), "first_cell_ms": med(first), "reset_ms": med(reset)}


_CONFINE_PROBE = """
import importlib.util, os, sys, tempfile, time
spec = importlib.util.spec_from_file_location("c", sys.argv[1]); c = importlib.util.module_from_spec(spec)
sys.modules["c"] = c; spec.loader.exec_module(c)
d = tempfile.mkdtemp(); t = time.perf_counter()
c.become_subreaper(); c.apply_limits(c.Limits(4096, 64, 900, 64)); c.unshare_network()
if c.landlock_abi() > 0:
    c.apply_landlock([d, "/dev/null", "/dev/shm"])
print((time.perf_counter() - t) * 1000)
"""


def confinement_cost_ms(n: int = 7) -> float:
    """Median milliseconds of the confinement calls a kernel makes on itself (subreaper, limits, netns, Landlock)."""
    import subprocess

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cort", "executor", "confine.py")
    runs = [float(subprocess.run([sys.executable, "-c", _CONFINE_PROBE, path], capture_output=True, text=True,
                                 check=True).stdout) for _ in range(n)]
    return statistics.median(runs)


def latency_at(concurrency: int, cells_per_session: int = 20) -> dict:
    """p50/p99 latency (ms) and calls/s of ``print(1+1)``, and warm session start (ms), at a concurrency."""
    cfg = ExecutorConfig(max_kernels=concurrency, warm_kernels=concurrency, timeout=60)
    with JupyterExecutor(cfg) as ex:
        deadline = time.monotonic() + 600
        while len(ex.pool._idle) < concurrency and time.monotonic() < deadline:
            time.sleep(0.05)
        lat: list[float] = []
        starts: list[float] = []

        def one(i: int) -> None:
            t0 = time.perf_counter()
            with ex.open(f"lat-{i}") as session:
                session.run("x = 1")
                starts.append((time.perf_counter() - t0) * 1000)
                for _ in range(cells_per_session):
                    t1 = time.perf_counter()
                    session.run("print(1+1)")
                    lat.append((time.perf_counter() - t1) * 1000)

        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency) as threads:
            list(threads.map(one, range(concurrency)))
        wall = time.perf_counter() - t0
    lat.sort()
    return {"p50": statistics.median(lat), "p99": lat[min(len(lat) - 1, int(0.99 * len(lat)))],
            "calls_s": len(lat) / wall, "start_p50": statistics.median(starts)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trajectories", type=int, default=64)
    ap.add_argument("--cells", type=int, default=6)
    ap.add_argument("--kernels", type=int, default=ExecutorConfig().max_kernels)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="baseline processes")
    ap.add_argument("--preload", default="import sympy, math", help="imports warm kernels load ahead")
    ap.add_argument("--workloads", default="light,typical")
    ap.add_argument("--concurrency", default="1,8,64", help="sessions at once for the latency table")
    args = ap.parse_args()

    rows, failed = [], False
    for kind in args.workloads.split(","):
        trajs = workload(kind, args.trajectories, args.cells)
        n = sum(len(t) for t in trajs)
        t_cort, out_cort = run_cort(trajs, args.kernels, args.preload)
        t_base, out_base = run_baseline(trajs, args.workers)
        t_floor, out_floor = run_floor(trajs, args.workers)
        same = out_cort == out_base == out_floor
        failed |= not same
        rows.append(f"| {kind} | {n} | {n / t_floor:.1f} | {n / t_base:.1f} | {n / t_cort:.1f} "
                    f"| {t_base / t_cort:.2f}x | {t_cort / t_floor:.2f}x | {same} |")
    print(f"\n{args.trajectories} trajectories x {args.cells} cells, state carried between cells; "
          f"{os.cpu_count()} CPUs; cort: {args.kernels} warm kernels (preload: {args.preload!r}), a fresh confined "
          f"kernel per trajectory; baseline: {args.workers} processes, a new pool per round, earlier cells re-run; "
          f"floor: {args.workers} bare processes, cells back to back\n")
    print("| workload | cells | floor cells/s | baseline cells/s | cort cells/s | cort vs baseline | cort time / floor time "
          "| same outputs |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    print("\n".join(rows))
    print("\n| concurrent sessions | p50 ms | p99 ms | calls/s | session start p50 ms (warm pool) |")
    print("|---:|---:|---:|---:|---:|")
    for c in [int(x) for x in args.concurrency.split(",")]:
        r = latency_at(c)
        print(f"| {c} | {r['p50']:.2f} | {r['p99']:.2f} | {r['calls_s']:.1f} | {r['start_p50']:.1f} |")
    print("\n| sandbox | template start s (once per pool) | kernel start ms (fork to ready) | kernel CPU ms "
          "| driver CPU ms | first cell ms | reuse instead: reset ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for sandbox in ("on", "off"):
        r = kernel_start(sandbox)
        print(f"| {sandbox} | {r['template_s']:.2f} | {r['wall_ms']:.1f} | {r['kernel_cpu_ms']:.0f} "
              f"| {r['driver_cpu_ms']:.1f} | {r['first_cell_ms']:.1f} | {r['reset_ms']:.1f} |")
    print(f"\nconfinement calls inside a kernel (median of 7): {confinement_cost_ms():.2f} ms")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
