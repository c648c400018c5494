"""Test support that ships with the package, so ``coach bench`` can use it too.

Nothing here is imported by the app itself.
"""
