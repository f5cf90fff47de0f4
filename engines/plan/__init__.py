"""Guard plans: several guards composed into a cascade over a policy set (see docs/architecture.md, "Plans and the
cascade"). Plain functions in `fusion`, `compile` and `cascade`; `local.PlanGuard` runs a plan in-process; the Ray
Serve router (`guardstream.engines.serve.router`) runs the same cascade over one deployment per guard."""
