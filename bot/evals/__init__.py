"""Eval suites that pin the grader's and the personas' behaviour (`coach eval`)."""
