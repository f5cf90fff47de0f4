"""Object-store settings: the S3-compatible store that holds media, the lake warehouse and the broker's log.

The local stack runs SeaweedFS on loopback with credentials generated per stack home and fills these in;
at scale point them at S3 (or any S3-compatible store) with credentials from a secret.
"""

from __future__ import annotations

from pydantic import Field, SecretStr

from guardstream.schemas._base import Section


class ObjectStoreSettings(Section):
    endpoint_url: str | None = Field(default=None, description="http(s)://host:port; None → the local stack's store.")
    region: str = "us-east-1"
    access_key_id: str | None = Field(default=None, description="None → the local stack's generated key.")
    secret_access_key: SecretStr | None = None
    media_bucket: str = "guardstream-media"
    lake_bucket: str = "guardstream-lake"
    broker_bucket: str = "guardstream-broker"
    allowed_media_buckets: tuple[str, ...] = Field(
        default=("guardstream-media",), description="Buckets that s3:// upload URIs may name (allowlist)."
    )
    request_timeout_s: float = Field(default=10.0, gt=0, description="Per-request socket timeout.")

    @property
    def configured(self) -> bool:
        """True when endpoint and credentials are all set."""
        return bool(self.endpoint_url and self.access_key_id and self.secret_access_key)

    def secret(self) -> str:
        return self.secret_access_key.get_secret_value() if self.secret_access_key else ""

    def warehouse_uri(self) -> str:
        """Where the Iceberg warehouse lives in this store."""
        return f"s3://{self.lake_bucket}/warehouse"

    def pyiceberg_properties(self) -> dict[str, str]:
        """Catalog properties for pyiceberg's S3 FileIO (pyarrow) against this store."""
        return {
            "s3.endpoint": str(self.endpoint_url),
            "s3.access-key-id": str(self.access_key_id),
            "s3.secret-access-key": self.secret(),
            "s3.region": self.region,
            "s3.force-virtual-addressing": "false",
            "s3.connect-timeout": str(self.request_timeout_s),
            "s3.request-timeout": str(self.request_timeout_s),
        }

    def aws_environment(self) -> dict[str, str]:
        """Environment for a child process that speaks S3 through the AWS SDK conventions (tansu)."""
        return {
            "AWS_ENDPOINT": str(self.endpoint_url),
            "AWS_ALLOW_HTTP": "true" if str(self.endpoint_url).startswith("http://") else "false",
            "AWS_ACCESS_KEY_ID": str(self.access_key_id),
            "AWS_SECRET_ACCESS_KEY": self.secret(),
            "AWS_DEFAULT_REGION": self.region,
        }
