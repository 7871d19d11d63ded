"""Deterministic in-memory Fakes, one per port, and the ``MockWorld`` that bundles them."""
