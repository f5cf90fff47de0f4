"""The one root settings object, composed of sections that live beside the code that reads them. Only entrypoints
call `Settings.from_env()`; libraries receive sections."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from guardstream.engines.compile.settings import CompileSettings
from guardstream.engines.hashing.settings import HashingSettings
from guardstream.engines.serve.settings import GuardSettings, RaySettings
from guardstream.operators.frames.settings import LimitSettings, SamplingSettings
from guardstream.operators.kafka_settings import KafkaSettings
from guardstream.operators.lake_settings import LakeSettings
from guardstream.operators.objectstore_settings import ObjectStoreSettings
from guardstream.pipeline.broker import BrokerSettings
from guardstream.schemas._base import Section

__all__ = [
    "BrokerSettings",
    "GuardSettings",
    "HashingSettings",
    "KafkaSettings",
    "LakeSettings",
    "LimitSettings",
    "ObjectStoreSettings",
    "RaySettings",
    "SamplingSettings",
    "Section",
    "Settings",
    "StackSettings",
]


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
    compile: CompileSettings = CompileSettings()
    objectstore: ObjectStoreSettings = ObjectStoreSettings()
    broker: BrokerSettings = BrokerSettings()
    hashing: HashingSettings = HashingSettings()

    @classmethod
    def from_env(cls) -> Settings:
        """Read GUARDSTREAM_* variables (and a .env file if present). Call only from entrypoints."""
        return cls(_env_file=".env")

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
            compile=CompileSettings(),
            objectstore=ObjectStoreSettings(),
            broker=BrokerSettings(),
            hashing=HashingSettings(),
        )
