"""The streaming job: uploads topic → parse → route → fetch + sample → guard (Ray Serve) → verdict →
lake + verdicts / dead-letters topics → offset commit. Composed only from `operators/`.

Runs on FnApiRunner locally; the same transforms run on Flink or Dataflow (swap `ReadUploads` for
`apache_beam.io.kafka.ReadFromKafka` there — docs/architecture.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.utils.shared import Shared

from guardstream.operators.envelope import Envelope, Outcome
from guardstream.operators.frames import SampledMedia
from guardstream.operators.infer import InferVerdicts, ServeTarget
from guardstream.operators.kafka_sink import KafkaSinkConfig, KafkaUploadSource, KafkaWriter
from guardstream.operators.kafka_source import KafkaSourceConfig
from guardstream.operators.lake_sink import LakeWriter
from guardstream.operators.match_hashes import BankSource, MatchHashes
from guardstream.operators.objectstore_settings import ObjectStoreSettings
from guardstream.operators.parse import ParseUploads
from guardstream.operators.route import RoutePolicies
from guardstream.operators.sample import SampleFrames
from guardstream.operators.sinks import OutcomeWriter, UploadSource, write_and_acknowledge
from guardstream.pipeline.settings import Settings
from guardstream.pipeline.stack import LocalStack
from guardstream.schemas.dead_letter import DeadLetter
from guardstream.schemas.policy import PolicyPack, load_policy_pack


@dataclass(frozen=True)
class StreamEndpoints:
    """Resolved addresses: from the local stack, or from settings when pointing at real infrastructure."""

    kafka_bootstrap: str
    ray_address: str
    catalog_uri: str
    warehouse: str
    ray_auth_env: tuple[tuple[str, str], ...] = ()
    object_store: ObjectStoreSettings | None = None

    @classmethod
    def resolve(
        cls, settings: Settings, stack: LocalStack | None, ray_address: str, ray_auth_env: dict[str, str]
    ) -> StreamEndpoints:
        """Addresses from settings where set, else from the local stack (which must then be up)."""
        status = stack.status() if stack is not None else {}
        return cls(
            kafka_bootstrap=settings.kafka.bootstrap_servers or status["kafka_bootstrap"],
            ray_address=ray_address,
            catalog_uri=stack.catalog_uri if stack is not None else str(settings.lake.catalog_uri),
            warehouse=stack.warehouse if stack is not None else str(settings.lake.warehouse),
            ray_auth_env=tuple(ray_auth_env.items()),
            object_store=stack.object_store() if stack is not None else _configured(settings.objectstore),
        )

    def with_object_store(self, settings: Settings) -> Settings:
        """`settings` with the resolved object store where the lake (s3:// warehouse) and fetch (s3:// media) use it."""
        if self.object_store is None:
            return settings
        lake = settings.lake.model_copy(update={"store": settings.lake.store or self.object_store})
        limits = settings.limits.model_copy(update={"store": settings.limits.store or self.object_store})
        return settings.model_copy(update={"lake": lake, "limits": limits})


def _configured(store: ObjectStoreSettings) -> ObjectStoreSettings | None:
    return store if store.configured else None


@dataclass(frozen=True)
class StreamJob:
    settings: Settings
    endpoints: StreamEndpoints
    guard_name: str
    guard_version: str
    stop_file: Path
    pack: PolicyPack

    @classmethod
    def create(
        cls, settings: Settings, endpoints: StreamEndpoints, guard_version: str, stop_file: Path, guard: str = ""
    ) -> StreamJob:
        """`guard` and `guard_version`: what the running app reported (`describe`); the guard name falls back to
        the settings' single guard."""
        pack = load_policy_pack(settings.guards.policy_pack)
        settings = endpoints.with_object_store(settings)
        return cls(settings, endpoints, guard or settings.guards.name, guard_version, stop_file, pack)

    def source_config(self) -> KafkaSourceConfig:
        k = self.settings.kafka
        return KafkaSourceConfig(
            bootstrap_servers=self.endpoints.kafka_bootstrap,
            topic=k.uploads_topic,
            group_id=k.group_id,
            client_config=tuple(k.client_config().items()),
            stop_file=str(self.stop_file),
            discover_partitions_s=k.discover_partitions_s,
            max_partitions=max(k.max_partitions, k.partitions),
        )

    def sink_config(self) -> KafkaSinkConfig:
        k = self.settings.kafka
        return KafkaSinkConfig(
            bootstrap_servers=self.endpoints.kafka_bootstrap,
            verdicts_topic=k.verdicts_topic,
            dead_letters_topic=k.dead_letters_topic,
            client_config=tuple(k.client_config().items()),
        )

    def serve_target(self) -> ServeTarget:
        g = self.settings.guards
        return ServeTarget(
            ray_address=self.endpoints.ray_address,
            app_name=self.settings.ray.app_name,
            guard_name=self.guard_name,
            guard_version=self.guard_version,
            auth_env=self.endpoints.ray_auth_env,
            request_timeout_s=g.request_timeout_s,
            max_batch_size=g.max_batch_size,
        )

    def source(self, progress: Shared) -> UploadSource:
        return KafkaUploadSource(self.source_config(), progress)

    def sinks(self) -> list[OutcomeWriter]:
        """Where outcomes go, in order: the lake first (the record of what was decided), then the topics."""
        lake = LakeWriter(self.settings.lake, self.endpoints.catalog_uri, self.endpoints.warehouse)
        return [lake, KafkaWriter(self.sink_config())]

    def expand(self, root: beam.Pipeline) -> list[beam.PCollection[Outcome]]:
        """Build the graph; returns one PCollection of committed outcomes per branch.

        Every branch (verdicts, HOLD verdicts, each stage's dead letters) gets its own sink chain instead of
        a Flatten: on FnApiRunner a Flatten breaks fusion, and downstream of the unbounded source that holds
        every outcome until the source ends. The source's progress (offset ledger) is shared by all branches.
        """
        source = self.source(Shared())
        envelopes = root | "ReadUploads" >> source.read()
        parsed = envelopes | "Parse" >> ParseUploads()
        routed = parsed.uploads | "Route" >> RoutePolicies(self.pack)
        frames, sample_failed, matched = self._sample(routed.uploads)
        inferred = frames | "Infer" >> InferVerdicts(self.pack, self.serve_target())
        branches = {
            "Verdicts": inferred.verdicts,
            "Held": inferred.held,
            "InferFailed": inferred.failed,
            "ParseFailed": parsed.failed | "ParseFailedOutcome" >> beam.Map(Outcome.failed),
            "RouteFailed": routed.failed | "RouteFailedOutcome" >> beam.Map(Outcome.failed),
            "SampleFailed": sample_failed | "SampleFailedOutcome" >> beam.Map(Outcome.failed),
        }
        if matched is not None:
            branches["HashMatched"] = matched
        sinks = self.sinks()
        return [
            outcomes | f"Write{name}" >> write_and_acknowledge(source, sinks) for name, outcomes in branches.items()
        ]

    def _sample(
        self, uploads: beam.PCollection[Envelope]
    ) -> tuple[
        beam.PCollection[tuple[Envelope, SampledMedia]], beam.PCollection[DeadLetter], beam.PCollection[Outcome] | None
    ]:
        """(frames for the guards, refused media, bank-decided outcomes or None): with hashing on, MatchHashes
        hashes and samples in one decode pass and decides known content before any guard."""
        s = self.settings
        if not s.hashing.enabled:
            sampled = uploads | "Sample" >> SampleFrames(s.sampling, s.limits)
            return sampled.frames, sampled.failed, None
        banks = BankSource(s.lake, self.endpoints.catalog_uri, self.endpoints.warehouse)
        hashed = uploads | "MatchHashes" >> MatchHashes(s.hashing, s.sampling, s.limits, banks, self.pack)
        return hashed.unmatched, hashed.failed, hashed.matched

    def run(self, runner: str = "FnApiRunner", extra_args: list[str] | None = None) -> None:
        """Run until the stop file appears (cooperative stop; SIGINT is ignored by the local runner).

        A stop file that exists when the job starts stops it at once: callers remove stale ones first.
        """
        options = PipelineOptions(extra_args or [])
        with beam.Pipeline(runner=runner, options=options) as root:
            self.expand(root)
