"""The ideas every stage shares, declared once: tables, scopes and ids, platforms, metrics.

The bottom of the package: it imports nothing else from `metrics`.
"""
