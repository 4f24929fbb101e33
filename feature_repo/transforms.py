"""On-demand transformations: one pure pandas function per on-demand view.

The same function runs inside Feast's on-demand feature view, in the training-set
path and in the online read path, so the two paths cannot compute it differently.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from contracts import RISK_TEAM
from pandera.typing import Series

from services.contracts import SourceContract


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
        metadata = {"owner": RISK_TEAM}


TRANSACTION_RISK_INPUTS = ("txn_amount_avg_30d", "transaction_amount")


def transaction_risk(inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Compare the requested amount with the customer's 30-day average.

    Works on anything column-shaped (a DataFrame, or a dict of lists on the online path),
    with numpy only, so both paths run literally the same arithmetic; nulls are NaN.

    Args:
        inputs: columns ``txn_amount_avg_30d`` and ``transaction_amount``.

    Returns:
        The ``TransactionRiskFeatures`` columns as float64 arrays, in input order.

    """
    avg = _floats(inputs["txn_amount_avg_30d"])
    amount = _floats(inputs["transaction_amount"])
    positive_avg = np.where(avg > 0, avg, np.nan)
    return {
        "amount_to_avg_30d_ratio": np.round(amount / positive_avg, 9),
        "amount_minus_avg_30d": np.round(amount - avg, 9),
    }


def _floats(column: Any) -> np.ndarray:
    if isinstance(column, pd.Series):
        return np.asarray(column.astype("float64").to_numpy(na_value=np.nan), dtype="float64")
    return np.array([np.nan if v is None else v for v in column], dtype="float64")


def transaction_risk_frame(inputs: pd.DataFrame) -> pd.DataFrame:
    """``transaction_risk`` as a DataFrame aligned on the input index (Feast's pandas mode)."""
    return pd.DataFrame(transaction_risk(inputs), index=inputs.index)
