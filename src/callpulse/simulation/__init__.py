"""A seeded, deterministic contact center and the scenarios it plays."""
