"""A bounded pool of kernels, some started ahead of need (warm)."""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
import weakref

from cort.executor.config import ExecutorConfig
from cort.executor.kernel import Kernel

_LIVE_POOLS: "weakref.WeakSet[KernelPool]" = weakref.WeakSet()


@atexit.register
def _shutdown_all_pools() -> None:
    for pool in list(_LIVE_POOLS):
        pool.close()


class KernelPool:
    """Hands out kernels (at most ``max_kernels`` alive) and keeps ``warm_kernels`` idle ones ready.

    A background thread starts warm kernels and runs ``config.preload`` in them, so a session's
    first cell pays neither the start (~0.6 s) nor the imports.
    """

    def __init__(self, config: ExecutorConfig):
        self.config = config
        self.home = tempfile.mkdtemp(prefix="cort-exec-", dir=config.scratch_root)
        self._idle: list[Kernel] = []
        self._all: set[Kernel] = set()
        self._starting = 0
        self._closed = False
        self._error: BaseException | None = None
        self._cond = threading.Condition()
        _LIVE_POOLS.add(self)
        self._warmer = threading.Thread(target=self._keep_warm, name="cort-kernel-warmer", daemon=True)
        self._warmer.start()

    @property
    def live(self) -> int:
        """Kernels alive or being started."""
        return len(self._all) + self._starting

    def _start_kernel(self) -> Kernel:
        kernel = Kernel(self.config, self.home)
        if self.config.preload:
            kernel.run(self.config.preload, timeout=self.config.startup_timeout, count_use=False,
                       store_history=False)
        return kernel

    def _keep_warm(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (
                    len(self._idle) + self._starting >= self.config.warm_kernels
                    or self.live >= self.config.max_kernels
                ):
                    self._cond.wait()
                if self._closed:
                    return
                self._starting += 1
            kernel = None
            try:
                kernel = self._start_kernel()
            except BaseException as err:  # noqa: BLE001 - reported to the next acquire
                self._error = err
            with self._cond:
                self._starting -= 1
                if kernel is not None:
                    if self._closed:
                        kernel.shutdown()
                    else:
                        self._all.add(kernel)
                        self._idle.append(kernel)
                self._cond.notify_all()
                if self._error is not None:
                    return

    def acquire(self) -> Kernel:
        """Take an idle kernel, start one if under the cap, or wait for a release."""
        with self._cond:
            while True:
                if self._closed:
                    raise RuntimeError("kernel pool is closed")
                if self._idle:
                    kernel = self._idle.pop()
                    self._cond.notify_all()
                    return kernel
                if self.live < self.config.max_kernels:
                    self._starting += 1
                    break
                if self._error is not None:
                    raise RuntimeError(f"kernels fail to start: {self._error}") from self._error
                self._cond.wait()
        try:
            kernel = self._start_kernel()
        finally:
            with self._cond:
                self._starting -= 1
                self._cond.notify_all()
        with self._cond:
            self._all.add(kernel)
        return kernel

    def release(self, kernel: Kernel) -> None:
        """Give a kernel back; a dead or worn-out one is replaced rather than reused."""
        reusable = kernel.is_alive() and kernel.uses < self.config.max_uses_per_kernel
        with self._cond:
            if reusable and not self._closed:
                self._idle.append(kernel)
                self._cond.notify_all()
                return
            self._all.discard(kernel)
            self._cond.notify_all()
        kernel.shutdown()

    def close(self) -> None:
        """Shut every kernel down and remove the scratch root."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            kernels = list(self._all)
            self._all.clear()
            self._idle.clear()
            self._cond.notify_all()
        for kernel in kernels:
            kernel.shutdown()
        self._warmer.join(timeout=self.config.startup_timeout)
        shutil.rmtree(self.home, ignore_errors=True)
