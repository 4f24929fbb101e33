"""Request and response models of the feature server (Feast-compatible shapes)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool


class GetOnlineFeaturesRequest(BaseModel):
    """Feast's ``/get-online-features`` body: a feature service or feature refs, plus entities.

    Request data for on-demand features may be sent in ``entities`` (as Feast does) or in
    ``request_data``.
    """

    model_config = ConfigDict(extra="forbid")

    # What the service refuses anyway, said in the schema: a name, and ``view:feature`` refs.
    feature_service: str | None = Field(default=None, min_length=1, max_length=256)
    features: list[Annotated[str, Field(pattern=r"^[^:]+:[\s\S]")]] | None = Field(
        default=None, min_length=1, max_length=500
    )
    entities: dict[str, list[Any]] = Field(..., max_length=64)
    request_data: dict[str, list[Any]] | None = Field(default=None, max_length=64)
    full_feature_names: StrictBool = False
    # Feast 0.67's remote online store client always sends it: with true, the answer's
    # metadata names each feature view read and its version number, as Feast's server does.
    include_feature_view_version_metadata: StrictBool = False


class FeatureResult(BaseModel):
    values: list[Any]
    statuses: list[str]
    event_timestamps: list[str]


class FeatureViewMetadata(BaseModel):
    name: str
    version: int


class Metadata(BaseModel):
    feature_names: list[str]
    # Only with ``include_feature_view_version_metadata``, as in Feast's answer.
    feature_view_metadata: list[FeatureViewMetadata] | None = None


class GetOnlineFeaturesResponse(BaseModel):
    metadata: Metadata
    results: list[FeatureResult]


class PushRequest(BaseModel):
    """Feast's ``/push`` body. ``push_source_name`` names a Skewless source (a contract)."""

    model_config = ConfigDict(extra="forbid")

    push_source_name: str = Field(..., min_length=1, max_length=256)
    df: dict[str, list[Any]] = Field(..., min_length=1, max_length=256)
    to: Literal["online", "offline", "online_and_offline"] = "online_and_offline"
    # As in Feast: false re-reads the registry before the push instead of using the cached one.
    allow_registry_cache: StrictBool = True
    # Feast runs write-time on-demand transforms when true. Skewless computes every on-demand
    # feature at read time from the stored inputs (training and serving run the same code), so
    # there is nothing to transform on write: either value is accepted and means the same.
    transform_on_write: StrictBool = True


class PushResponse(BaseModel):
    source: str
    received: int
    written: int
    dataset_version: str | None
    online_entities: int


class RowReason(BaseModel):
    row: int
    check: str
    column: str | None
    value: str | None


class ErrorResponse(BaseModel):
    error: str
    detail: str
    request_id: str
    reasons: list[RowReason] | None = None


class HealthResponse(BaseModel):
    status: Literal["ok", "degraded", "unavailable"]
    online_store: str
    reason: str | None = None
