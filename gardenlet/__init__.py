"""The seed agent: registers its seed with the garden, keeps its garden credentials fresh and sends heartbeats, and
turns the seed's shoots into control planes. It talks to clusters only through their APIs, with the shared
runtime's client, informer and controller loop (`gardener.runtime`); of the garden side it imports only
`gardener.apis` and the chart files (`gardener.assets`), and nothing else of ours imports it.
"""
