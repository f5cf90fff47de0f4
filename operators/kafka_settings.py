"""Kafka client settings: the section every Kafka source, sink and admin client reads."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr

from guardstream.schemas._base import Section


class KafkaSettings(Section):
    bootstrap_servers: str | None = Field(default=None, description="None → the local stack's broker.")
    group_id: str = Field(default="guardstream", description="Consumer group whose committed offsets mark progress.")
    uploads_topic: str = "guardstream.uploads"
    verdicts_topic: str = "guardstream.verdicts"
    dead_letters_topic: str = "guardstream.dead-letters"
    feedback_topic: str = Field(default="guardstream.feedback", description="Reviewer decisions (ReviewFeedback).")
    partitions: int = Field(default=3, ge=1)
    discover_partitions_s: float = Field(
        default=5.0, gt=0, le=3600, description="How often the stream looks for partitions added to the uploads topic."
    )
    max_partitions: int = Field(
        default=64, ge=1, le=4096, description="Reader slots: partitions the stream reads, existing or added later."
    )
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
