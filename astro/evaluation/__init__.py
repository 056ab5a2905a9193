"""Scoring a model: forward passes, post-hoc calibration, metrics with intervals, figures and reports."""
