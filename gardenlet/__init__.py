"""The seed agent: registers its seed with the garden, keeps its garden credentials fresh and sends heartbeats;
later it turns the seed's shoots into control planes. It talks to clusters only through their APIs
(`gardenlet.kube`) and imports only `gardener.apis` of the garden side; nothing else of ours imports it.
"""
