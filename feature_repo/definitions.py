"""Feast definitions of the card-fraud domain. Declarative: no I/O.

Every schema comes from this repository's contracts (``contracts.py``); every object has an
owner and a description (``skewless apply`` refuses it otherwise).
"""

from __future__ import annotations

import pandas as pd
from contracts import (
    MERCHANT_TEAM,
    PROFILE_TEAM,
    RISK_TEAM,
    CustomerProfile,
    CustomerTransactionsDaily,
    MerchantRisk,
    TransactionRequest,
)
from feast import Entity, FeatureService, FileSource, RequestSource, ValueType
from feast.on_demand_feature_view import on_demand_feature_view
from transforms import TransactionRiskFeatures, transaction_risk_frame

from services.contracts import SourceContract
from services.contracts.feast_objects import contract_source, contract_view
from services.contracts.schema import (
    feast_fields,
    odfv_fields_and_tags,
    schema_fingerprint,
    source_spec,
)
from services.settings import get_settings

customer = Entity(
    name="customer",
    join_keys=["customer_id"],
    value_type=ValueType.INT64,
    owner=PROFILE_TEAM,
    description="A cardholder, identified by the bank's customer surrogate key.",
)

merchant = Entity(
    name="merchant",
    join_keys=["merchant_id"],
    value_type=ValueType.INT64,
    owner=MERCHANT_TEAM,
    description="A card-accepting merchant, identified by the acquirer's surrogate key.",
)


def _source(contract: type[SourceContract]) -> FileSource:
    return contract_source(contract, get_settings().offline_dir)


customer_transactions_daily_source = _source(CustomerTransactionsDaily)
customer_profile_source = _source(CustomerProfile)
merchant_risk_source = _source(MerchantRisk)

customer_transactions_daily = contract_view(
    CustomerTransactionsDaily, customer, customer_transactions_daily_source
)
customer_profile = contract_view(CustomerProfile, customer, customer_profile_source)
merchant_risk = contract_view(MerchantRisk, merchant, merchant_risk_source)

transaction_request = RequestSource(
    name="transaction_request",
    schema=feast_fields(TransactionRequest),
    owner=RISK_TEAM,
    description=source_spec(TransactionRequest).description,
    tags={"contract": "transaction_request", "schema": schema_fingerprint(TransactionRequest)},
)


_risk_fields, _risk_field_tags = odfv_fields_and_tags(TransactionRiskFeatures)


@on_demand_feature_view(  # type: ignore[misc]
    sources=[customer_transactions_daily, transaction_request],
    schema=_risk_fields,
    mode="pandas",
    owner=RISK_TEAM,
    description=source_spec(TransactionRiskFeatures).description,
    tags={
        "contract": "transaction_risk",
        "schema": schema_fingerprint(TransactionRiskFeatures),
        **_risk_field_tags,
    },
)
def transaction_risk(inputs: pd.DataFrame) -> pd.DataFrame:
    """The ``transaction_risk`` transformation: training sets and serving both run this."""
    return transaction_risk_frame(inputs)


fraud_detection_v1 = FeatureService(
    name="fraud_detection_v1",
    features=[
        customer_transactions_daily,
        customer_profile[["account_age_days", "country", "credit_limit", "kyc_verified"]],
        transaction_risk,
    ],
    owner=RISK_TEAM,
    description="Features of the first card-fraud model: customer behaviour and profile.",
)

fraud_detection_v2 = FeatureService(
    name="fraud_detection_v2",
    features=[
        customer_transactions_daily,
        customer_profile[["account_age_days", "country", "credit_limit", "kyc_verified"]],
        transaction_risk,
        merchant_risk,
    ],
    owner=RISK_TEAM,
    description="v1 plus merchant risk statistics.",
)
