"""Provider extensions and the machine controller manager; may import `gardener.apis` only."""
