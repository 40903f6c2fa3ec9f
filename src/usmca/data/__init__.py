"""Dataset registry, sync from a mirror or official URLs, and the reference-store build."""
