"""The seed agent: registers its seed and turns shoots into control planes. Not built yet."""
