"""CoRT: code-integrated reasoning within thinking.

The one shared library: :mod:`cort.protocol` (the code-cell text format and stops),
:mod:`cort.hints` (hint texts, placement and detection), :mod:`cort.executor` (Jupyter
kernels), :mod:`cort.engine` (the generation interface) and :mod:`cort.rollout` (the
multi-turn tool loop).
"""

__version__ = "0.1.0"
