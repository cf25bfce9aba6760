"""Finding the processes a run started, by the ``CORT_RUN_PID`` the executor puts in their environment."""

from __future__ import annotations

import psutil


def run_processes(parent_pid: int) -> list[int]:
    """Live processes started for the run of process ``parent_pid``: executor process, kernel template, kernels."""
    found = []
    for p in psutil.process_iter():
        try:
            if p.environ().get("CORT_RUN_PID") == str(parent_pid) and p.status() != psutil.STATUS_ZOMBIE:
                found.append(p.pid)
        except psutil.Error:
            continue
    return found
