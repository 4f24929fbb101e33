"""On-demand transformations: one pure pandas function per on-demand view.

The same function runs inside Feast's on-demand feature view, in the training-set
path and in the online read path, so the two paths cannot compute it differently.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from services.contracts.base import SourceContract
from services.contracts.sources import RISK_TEAM


class TransactionRiskFeatures(SourceContract):
    """Output contract of the ``transaction_risk`` on-demand view."""

    amount_to_avg_30d_ratio: Series[float] = pa.Field(
        nullable=True,
        description="Transaction amount divided by the customer's 30-day mean amount; "
        "null when the customer has no positive 30-day mean.",
    )
    amount_minus_avg_30d: Series[float] = pa.Field(
        nullable=True,
        description="Transaction amount minus the customer's 30-day mean amount (EUR).",
    )

    class Config:
        name = "transaction_risk"
        description = "Request-time risk features comparing an amount with the customer's history."
        metadata = {"owner": RISK_TEAM, "entity": None}


TRANSACTION_RISK_INPUTS = ("txn_amount_avg_30d", "transaction_amount")


def transaction_risk(inputs: pd.DataFrame) -> pd.DataFrame:
    """Compare the requested amount with the customer's 30-day average.

    Args:
        inputs: a frame with ``txn_amount_avg_30d`` and ``transaction_amount``.

    Returns:
        A frame with the ``TransactionRiskFeatures`` columns, aligned on the input index.

    """
    avg = pd.to_numeric(inputs["txn_amount_avg_30d"], errors="raise").astype("float64")
    amount = pd.to_numeric(inputs["transaction_amount"], errors="raise").astype("float64")
    positive_avg = avg.where(avg > 0)
    return pd.DataFrame(
        {
            "amount_to_avg_30d_ratio": (amount / positive_avg).round(9),
            "amount_minus_avg_30d": (amount - avg).round(9),
        },
        index=inputs.index,
    )
