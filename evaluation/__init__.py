"""Evaluation: the grader, metrics and eval scripts."""
