"""Code execution for model-written cells on real Jupyter kernels.

- :class:`JupyterExecutor`: sessions (one per trajectory) over a warm, bounded kernel pool.
- :class:`ExecutorProcess`: the same, run in a child process (cells cost the caller one message each way).
- :class:`PythonExecutor`: the original CoRT surface (``apply``, ``batch_apply``).
"""

from cort.executor.compat import PythonExecutor
from cort.executor.config import DEFAULT_PRELOAD, ExecutorConfig
from cort.executor.jupyter import JupyterExecutor, Session
from cort.executor.remote import EXECUTOR_PROCESS_MODES, ExecutorProcess, start_executor
from cort.executor.result import TIMEOUT_REPORT, ExecutionResult, is_error_text

__all__ = [
    "DEFAULT_PRELOAD", "EXECUTOR_PROCESS_MODES", "ExecutionResult", "ExecutorConfig", "ExecutorProcess",
    "JupyterExecutor", "PythonExecutor", "Session", "TIMEOUT_REPORT", "is_error_text", "start_executor",
]
