"""Reusable pieces of the French user interface."""
