"""Storage backends of the API server: a key space of JSON objects with one global revision.

A backend stamps each written object with its revision (the resourceVersion), refuses writes
whose expected revision is stale, and publishes every change to an in-memory event window that
watches are served from.
"""
