"""gardenctl: target a garden, project or shoot and list what is there. Uses public APIs only."""
