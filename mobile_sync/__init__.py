"""Offline module for médicobus and permanence laptops (importable without Reflex)."""
