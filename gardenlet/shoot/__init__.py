"""The shoot controller: turns every Shoot scheduled to this seed into a control plane in the seed (reconcile,
hibernate, wake up, delete) with task-graph flows, and reports progress and errors in the Shoot's status.
`controller.run_shoot_controller` is the entry the gardenlet calls; only `gardenlet` code imports this package.
"""
