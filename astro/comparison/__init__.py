"""Comparing runs: selecting a sweep's runs from MLflow, the report with its noise sections, registering
the best.
"""
