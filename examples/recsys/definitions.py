"""Feature definitions of the shop's recommendation team (plain Feast, no Skewless import).

String user ids (account UUIDs), Int32 item numbers, a user x item affinity view over two
entities, a Float32 embedding, maps, JSON, bytes and a struct, a python-mode on-demand
view over a request source, and a service that reads one view twice under another name.
"""

from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource, RequestSource, ValueType
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import (
    Array,
    Bool,
    Bytes,
    Float32,
    Float64,
    Int32,
    Int64,
    Json,
    Map,
    String,
    Struct,
    UnixTimestamp,
)

TEAM = "recsys-features@shop.example"
CATALOG_TEAM = "catalog-data@shop.example"

user = Entity(
    name="user",
    join_keys=["user_id"],
    value_type=ValueType.STRING,
    owner=TEAM,
    description="A shopper, identified by the account's UUID.",
)
item = Entity(
    name="item",
    join_keys=["item_id"],
    value_type=ValueType.INT32,
    owner=CATALOG_TEAM,
    description="A catalogue item, identified by its SKU number.",
)

user_profile_source = FileSource(
    name="user_profile",
    path="data/user_profile.parquet",
    timestamp_field="event_timestamp",
    created_timestamp_column="created",
    owner=TEAM,
    description="Nightly snapshot of shopper profiles from the accounts service.",
)
user_item_source = FileSource(
    name="user_item_affinity",
    path="data/user_item_affinity.parquet",
    timestamp_field="event_timestamp",
    created_timestamp_column="created",
    owner=TEAM,
    description="Hourly user x item interaction aggregates from the clickstream.",
)
item_source = FileSource(
    name="item_catalog",
    path="data/item_catalog.parquet",
    timestamp_field="event_timestamp",
    owner=CATALOG_TEAM,
    description="Catalogue facts per item from the product information system.",
)

user_profile = FeatureView(
    name="user_profile",
    entities=[user],
    ttl=timedelta(days=30),
    schema=[
        Field(name="age", dtype=Int32, description="Age in whole years, as declared."),
        Field(name="country", dtype=String, description="Shipping country (ISO 3166-1 alpha-2)."),
        Field(name="premium", dtype=Bool, description="Member of the paid loyalty programme."),
        Field(name="signup_at", dtype=UnixTimestamp, description="When the account was opened."),
        Field(
            name="embedding",
            dtype=Array(Float32),
            description="16-dimensional taste embedding from the nightly two-tower model.",
        ),
        Field(name="preferences", dtype=Map, description="Saved preferences, by name."),
        Field(
            name="last_order",
            dtype=Json,
            description="The last order as the order service reports it.",
            tags={"pii": "true", "classification": "confidential"},
        ),
    ],
    source=user_profile_source,
    owner=TEAM,
    description="Who the shopper is: profile facts and a taste embedding.",
)

user_item_affinity = FeatureView(
    name="user_item_affinity",
    entities=[user, item],
    ttl=timedelta(days=7),
    schema=[
        Field(name="affinity", dtype=Float32, description="Predicted affinity of user for item."),
        Field(name="views_7d", dtype=Int64, description="Item page views by the user, 7 days."),
        Field(
            name="recent_queries",
            dtype=Array(String),
            description="The user's last search queries that led to the item.",
        ),
        Field(name="last_view_at", dtype=UnixTimestamp, description="Last view of the item."),
    ],
    source=user_item_source,
    owner=TEAM,
    description="How a shopper relates to an item (composite key: user x item).",
)

item_stats = FeatureView(
    name="item_stats",
    entities=[item],
    ttl=timedelta(days=14),
    schema=[
        Field(name="price", dtype=Float64, description="List price (EUR)."),
        Field(name="category", dtype=String, description="Top-level catalogue category."),
        Field(name="thumbnail", dtype=Bytes, description="A 16-byte perceptual hash of the image."),
        Field(
            name="dimensions",
            dtype=Struct({"width_cm": Float64, "height_cm": Float64}),
            description="Package dimensions.",
        ),
        Field(name="ratings", dtype=Array(Int32), description="The last ratings, 1 to 5 stars."),
    ],
    source=item_source,
    owner=CATALOG_TEAM,
    description="Catalogue facts per item.",
)

context = RequestSource(
    name="context",
    schema=[
        Field(name="hour_of_day", dtype=Int32, description="Local hour of the request (0-23)."),
        Field(name="device", dtype=String, description="The client: web, ios or android."),
    ],
    owner=TEAM,
    description="What the storefront sends with each recommendation request.",
)


@on_demand_feature_view(
    sources=[user_item_affinity, context],
    schema=[Field(name="session_score", dtype=Float64), Field(name="is_mobile", dtype=Bool)],
    mode="python",
    owner=TEAM,
    description="Affinity adjusted to the request's context.",
    tags={
        "field.session_score.description": "Affinity times a time-of-day factor; null "
        "without an affinity.",
        "field.is_mobile.description": "The request comes from a mobile app.",
    },
)
def session_context(inputs: dict) -> dict:
    """Affinity adjusted by hour of day, and whether the client is a mobile app."""
    scores, mobile = [], []
    for affinity, hour, device in zip(
        inputs["affinity"], inputs["hour_of_day"], inputs["device"], strict=True
    ):
        factor = 1.2 if hour is not None and 18 <= hour <= 22 else 1.0
        scores.append(None if affinity is None else round(float(affinity) * factor, 6))
        mobile.append(device in ("ios", "android"))
    return {"session_score": scores, "is_mobile": mobile}


recs_v1 = FeatureService(
    name="recs_v1",
    features=[
        user_profile[["age", "country", "premium", "embedding"]],
        user_item_affinity,
        item_stats,
        session_context,
    ],
    owner=TEAM,
    description="Features of the first ranking model.",
)

price_check = FeatureService(
    name="price_check",
    features=[
        item_stats[["price", "category"]],
        item_stats.with_name("candidate").with_join_key_map({"item_id": "candidate_id"})[["price"]],
    ],
    owner=CATALOG_TEAM,
    description="An item's price beside a candidate item's price (one view read twice).",
)
