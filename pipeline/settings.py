"""The one root settings object. Only entrypoints call `Settings.from_env()`; libraries receive sections."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.policy import DEFAULT_PACK


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KafkaSettings(Section):
    bootstrap_servers: str | None = Field(default=None, description="None → the local stack's broker.")
    group_id: str = Field(default="guardstream", description="Consumer group whose committed offsets mark progress.")
    uploads_topic: str = "guardstream.uploads"
    verdicts_topic: str = "guardstream.verdicts"
    dead_letters_topic: str = "guardstream.dead-letters"
    partitions: int = Field(default=3, ge=1)
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = Field(default=None, description="CA bundle that signed the brokers' certificates.")
    ssl_certfile: Path | None = Field(default=None, description="Client certificate (mutual TLS).")
    ssl_keyfile: Path | None = None

    def client_config(self) -> dict[str, object]:
        """kafka-python keyword arguments shared by producers, consumers and admin clients.

        Consumers use explicit partition assignment (no group join), so group timeouts do not apply."""
        config: dict[str, object] = {"security_protocol": self.security_protocol}
        if self.sasl_mechanism:
            config |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": self.sasl_username,
                "sasl_plain_password": self.sasl_password.get_secret_value() if self.sasl_password else None,
            }
        tls = {"ssl_cafile": self.ssl_cafile, "ssl_certfile": self.ssl_certfile, "ssl_keyfile": self.ssl_keyfile}
        config |= {key: str(path) for key, path in tls.items() if path is not None}
        return config


class RaySettings(Section):
    address: str | None = Field(default=None, description="None → the local stack's Ray head.")
    num_cpus: int | None = Field(default=None, description="CPUs the local head advertises (None: all).")
    object_store_memory_mb: int = 512
    serve_http_host: str = "127.0.0.1"
    serve_http_port: int = 0
    app_name: str = "guardstream"


class LakeSettings(Section):
    catalog_name: str = "guardstream"
    catalog_uri: str | None = Field(default=None, description="SQLAlchemy URI; None → sqlite in the stack home.")
    warehouse: str | None = Field(default=None, description="Warehouse URI; None → folder in the stack home.")
    namespace: str = "moderation"
    verdicts_table: str = "verdicts"
    dead_letters_table: str = "dead_letters"
    commit_retries: int = Field(default=8, ge=1)


class SamplingSettings(Section):
    spec: Literal["uniform", "fps", "keyframe", "scene"] = "uniform"
    frames: int = Field(default=8, ge=1, le=256)
    fps: float = Field(default=1.0, gt=0)
    keyframe_tolerance_s: float = Field(default=1.0, ge=0)
    backend: Literal["pyav", "decord", "torchcodec"] = "pyav"
    frame_size: int = Field(default=224, ge=16, le=2048, description="Guard input edge (square, aspect kept, padded).")
    isolate: bool = Field(default=True, description="Decode untrusted media in a recycled worker subprocess.")
    worker_recycle_after: int = Field(default=50, ge=1)
    max_frames_per_upload: int = Field(default=64, ge=1, le=1024, description="Cap on frames any spec keeps.")
    scene_threshold: float = Field(default=0.3, gt=0, le=2, description="Histogram distance that starts a shot.")


class GuardSettings(Section):
    name: str = Field(default="text", description="Registry name of the guard the Serve app hosts.")
    checkpoint: Path | None = Field(default=None, description="Local checkpoint folder for model guards.")
    max_batch_size: int = Field(default=8, ge=1)
    batch_wait_timeout_s: float = Field(default=0.01, ge=0)
    request_timeout_s: float = Field(default=60.0, gt=0)
    policy_pack: Path = DEFAULT_PACK
    num_replicas: int = Field(default=1, ge=1, description="Serve replicas of the guard deployment.")
    replica_num_cpus: float = Field(default=1.0, gt=0, description="CPUs reserved per guard replica.")
    http_route_prefix: str = Field(default="/guard", description="HTTP route of the guard app (loopback).")


class LimitSettings(Section):
    max_bytes: int = 512 * 1024 * 1024
    max_pixels: int = 3840 * 2160
    max_duration_s: float = 3600.0
    max_frames: int = 1_000_000
    decode_timeout_s: float = 60.0
    fetch_timeout_s: float = 30.0
    decode_memory_mb: int = 2048
    allowed_roots: tuple[Path, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    max_redirects: int = Field(default=3, ge=0)
    allowed_video_codecs: tuple[str, ...] = ("h264", "hevc", "vp8", "vp9", "av1", "mpeg4")


class StackSettings(Section):
    home: Path = Field(default=Path(".guardstream"), description="State folder: PIDs, logs, catalog, warehouse.")
    start_timeout_s: float = 90.0


class Settings(BaseSettings):
    """Root settings. Environment: GUARDSTREAM_<SECTION>__<FIELD>, e.g. GUARDSTREAM_KAFKA__PARTITIONS=6."""

    model_config = SettingsConfigDict(env_prefix="GUARDSTREAM_", env_nested_delimiter="__", frozen=True, extra="forbid")

    kafka: KafkaSettings = KafkaSettings()
    ray: RaySettings = RaySettings()
    lake: LakeSettings = LakeSettings()
    sampling: SamplingSettings = SamplingSettings()
    guards: GuardSettings = GuardSettings()
    limits: LimitSettings = LimitSettings()
    stack: StackSettings = StackSettings()

    @classmethod
    def from_env(cls) -> Settings:
        """Read GUARDSTREAM_* variables (and a .env file if present). Call only from entrypoints."""
        return cls(_env_file=".env")  # type: ignore[call-arg]

    @classmethod
    def defaults(cls) -> Settings:
        """Embedded defaults, ignoring the environment (for libraries and tests)."""
        return cls.model_construct(
            kafka=KafkaSettings(),
            ray=RaySettings(),
            lake=LakeSettings(),
            sampling=SamplingSettings(),
            guards=GuardSettings(),
            limits=LimitSettings(),
            stack=StackSettings(),
        )
