"""Evaluation: the grader, metrics and eval scripts."""


def _silence_antlr() -> None:
    """latex2sympy2 1.9.1 was generated with ANTLR 4.7.2 and prints a version warning on every parser
    build under the 4.9.3 runtime that math-verify needs; the grammars are compatible, so skip the check."""
    try:
        import antlr4.Recognizer as recognizer

        recognizer.Recognizer.checkVersion = lambda self, version: None
    except ImportError:
        pass


_silence_antlr()
