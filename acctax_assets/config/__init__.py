"""Packaged configuration files (column map)."""
