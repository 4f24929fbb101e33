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


class FeatureResult(BaseModel):
    values: list[Any]
    statuses: list[str]
    event_timestamps: list[str]


class Metadata(BaseModel):
    feature_names: list[str]


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
