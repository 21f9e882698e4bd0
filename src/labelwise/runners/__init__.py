"""Runners: how a project's pending items are spread over processes. The local runner is the
engine itself (``Project.run``); ``ray_runner`` spreads batches over Ray actors."""
