"""The Ray Serve application that hosts guards: `build_app(args)` (app.py), the safe wire codec (wire.py),
fail-closed clients for the handle and HTTP paths (client.py) and the custom metrics (metrics.py)."""
