"""The card-fraud demo's contracts: one Pandera model per source, defined once.

Column lists, dtypes, ranges, owners and PII tags live here and nowhere else.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from services.contracts import SourceContract, UtcTimestamp

RISK_TEAM = "risk-data@skewless.example"
PROFILE_TEAM = "customer-data@skewless.example"
MERCHANT_TEAM = "merchant-risk@skewless.example"

COUNTRIES = ("GB", "FR", "DE", "ES", "IT", "NL", "IE", "US")
MERCHANT_CATEGORIES = ("grocery", "electronics", "travel", "gambling", "fashion", "fuel", "digital")


def _event_ts() -> pa.typing.common.Any:
    return pa.Field(
        description="When the facts in this row became true (event time, UTC).",
        metadata={"role": "event_timestamp"},
    )


def _created_ts() -> pa.typing.common.Any:
    return pa.Field(
        description="When this row was computed; breaks ties and hides backfills from the past.",
        metadata={"role": "created_timestamp"},
    )


class CustomerTransactionsDaily(SourceContract):
    """Daily card-transaction aggregates per customer."""

    customer_id: Series[int] = pa.Field(
        ge=1, description="Customer surrogate key.", metadata={"role": "entity"}
    )
    event_timestamp: Series[UtcTimestamp] = _event_ts()
    created_timestamp: Series[UtcTimestamp] = _created_ts()
    txn_count_1d: Series[int] = pa.Field(
        ge=0, le=10_000, description="Card transactions in the last day."
    )
    txn_amount_sum_1d: Series[float] = pa.Field(
        ge=0, le=1e7, description="Sum of transaction amounts in the last day (EUR)."
    )
    txn_amount_avg_30d: Series[float] = pa.Field(
        ge=0,
        le=1e6,
        nullable=True,
        description="Mean transaction amount over 30 days (EUR); null with no history.",
    )
    txn_count_30d: Series[int] = pa.Field(
        ge=0, le=300_000, description="Card transactions in the last 30 days."
    )
    declined_count_7d: Series[int] = pa.Field(
        ge=0, le=10_000, description="Declined authorisations in the last 7 days."
    )
    chargeback_count_90d: Series[pd.Int64Dtype] = pa.Field(
        ge=0,
        le=1_000,
        nullable=True,
        description="Chargebacks in the last 90 days; null until the dispute feed reports.",
    )

    class Config:
        name = "customer_transactions_daily"
        description = "Daily aggregates of each customer's card transactions."
        metadata = {
            "owner": RISK_TEAM,
            "entity": "customer",
            "ttl_hours": 48,
            "cadence_hours": 24,
            "default_policy": "quarantine",
        }


class CustomerProfile(SourceContract):
    """Slowly changing customer profile, including a PII postcode hash."""

    customer_id: Series[int] = pa.Field(
        ge=1, description="Customer surrogate key.", metadata={"role": "entity"}
    )
    event_timestamp: Series[UtcTimestamp] = _event_ts()
    created_timestamp: Series[UtcTimestamp] = _created_ts()
    account_age_days: Series[int] = pa.Field(
        ge=0, le=40_000, description="Days since the account was opened."
    )
    country: Series[str] = pa.Field(
        isin=list(COUNTRIES), description="Country of residence (ISO 3166-1 alpha-2)."
    )
    postcode_hash: Series[str] = pa.Field(
        str_length={"min_value": 16, "max_value": 64},
        description="Salted SHA-256 of the postcode; links to an address.",
        metadata={"pii": True, "classification": "confidential", "owner": PROFILE_TEAM},
    )
    credit_limit: Series[float] = pa.Field(ge=0, le=1e6, description="Card credit limit (EUR).")
    kyc_verified: Series[bool] = pa.Field(description="Know-your-customer check passed.")

    class Config:
        name = "customer_profile"
        description = "Customer profile snapshots from the core banking system."
        metadata = {
            "owner": PROFILE_TEAM,
            "entity": "customer",
            "ttl_hours": 24 * 30,
            "cadence_hours": 24 * 7,
            "default_policy": "quarantine",
        }


class MerchantRisk(SourceContract):
    """Rolling risk statistics per merchant."""

    merchant_id: Series[int] = pa.Field(
        ge=1, description="Merchant surrogate key.", metadata={"role": "entity"}
    )
    event_timestamp: Series[UtcTimestamp] = _event_ts()
    created_timestamp: Series[UtcTimestamp] = _created_ts()
    merchant_category: Series[str] = pa.Field(
        isin=list(MERCHANT_CATEGORIES), description="Merchant category group."
    )
    fraud_rate_30d: Series[float] = pa.Field(
        ge=0, le=1, description="Share of the merchant's transactions confirmed as fraud, 30 days."
    )
    chargeback_rate_30d: Series[float] = pa.Field(
        ge=0, le=1, description="Share of the merchant's transactions charged back, 30 days."
    )
    txn_volume_30d: Series[int] = pa.Field(
        ge=0, le=10_000_000, description="Transactions processed in 30 days."
    )

    class Config:
        name = "merchant_risk"
        description = "Merchant risk statistics from the acquiring platform."
        metadata = {
            "owner": MERCHANT_TEAM,
            "entity": "merchant",
            "ttl_hours": 24 * 7,
            "cadence_hours": 24,
            "default_policy": "reject",
        }


class TransactionRequest(SourceContract):
    """Request-time data sent with each scoring call."""

    transaction_amount: Series[float] = pa.Field(
        ge=0,
        le=1e6,
        description="Amount of the transaction being scored (EUR).",
        metadata={"role": "request"},
    )

    class Config:
        name = "transaction_request"
        description = "Data the caller sends with each online request."
        metadata = {"owner": RISK_TEAM, "request": True, "default_policy": "reject"}
