"""E2E fixtures: the session's local stack with the text guard deployed on Ray Serve (one replica)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.demo import Session, with_media_root
from pipeline.serving import connect_ray, deploy_guard_app, guard_identity, ray_endpoints
from pipeline.stack import LocalStack
from pipeline.streaming import StreamEndpoints


@pytest.fixture(scope="module")
def media_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def session(local_stack: LocalStack, media_root: Path) -> Iterator[Session]:
    import ray
    from ray import serve

    settings = with_media_root(local_stack.settings, media_root)
    stack = LocalStack(settings)
    status = stack.up()
    address, auth_env = ray_endpoints(settings, stack)
    connect_ray(address, auth_env)
    handle = deploy_guard_app(settings, num_cpus=1.0)
    endpoints = StreamEndpoints(
        kafka_bootstrap=status["kafka_bootstrap"],
        ray_address=address,
        catalog_uri=stack.catalog_uri,
        warehouse=stack.warehouse,
        ray_auth_env=tuple(auth_env.items()),
    )
    try:
        yield Session(settings, stack, endpoints, str(guard_identity(handle)["guard_version"]), started_stack=False)
    finally:
        serve.delete(settings.ray.app_name)
        ray.shutdown()
