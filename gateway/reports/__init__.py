"""Indicators and periodic reports."""
