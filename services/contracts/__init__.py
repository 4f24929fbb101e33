"""Pandera contracts: the single source of every table's schema.

Each source is one ``SourceContract`` subclass. Feast ``Field`` lists, the Arrow
schema of every dataset version and the validation schema are all generated
from it (see :mod:`services.contracts.schema`).
"""

from services.contracts.base import SourceContract
from services.contracts.sources import (
    CONTRACTS,
    CustomerProfile,
    CustomerTransactionsDaily,
    MerchantRisk,
    TransactionRequest,
    get_contract,
)
from services.contracts.transforms import TransactionRiskFeatures

# Every contract a Feast object may be generated from (batch sources, request
# data and on-demand outputs), by name.
ALL_CONTRACTS: dict[str, type[SourceContract]] = {
    **CONTRACTS,
    "transaction_request": TransactionRequest,
    "transaction_risk": TransactionRiskFeatures,
}


def register_contract(contract: type[SourceContract], *, batch: bool = True) -> None:
    """Make a contract defined outside this package (e.g. the benchmark's) resolvable by name."""
    name = str(contract.Config.name)  # type: ignore[attr-defined]
    ALL_CONTRACTS[name] = contract
    if batch:
        CONTRACTS[name] = contract


__all__ = [
    "ALL_CONTRACTS",
    "CONTRACTS",
    "CustomerProfile",
    "CustomerTransactionsDaily",
    "MerchantRisk",
    "SourceContract",
    "TransactionRequest",
    "TransactionRiskFeatures",
    "get_contract",
    "register_contract",
]
