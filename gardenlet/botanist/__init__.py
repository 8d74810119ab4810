"""The botanist: turns a Shoot (and the Seed it runs on) into plain values for the components, one module per
concern. Components never see a Shoot; everything provider- or seed-specific enters through `SeedProfile`.
Only `gardenlet` code imports this package.
"""
