"""Kubernetes resource quantities ("500m", "2Gi", "1.5") as validated strings."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator

_SUFFIX = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
}
_PATTERN = re.compile(r"^(?P<num>[0-9]+(\.[0-9]+)?)(?P<suffix>m|k|M|G|T|P|Ki|Mi|Gi|Ti|Pi)?$")


def parse_quantity(value: str) -> Decimal:
    """The quantity's value in base units; raises ValueError naming the accepted forms."""
    match = _PATTERN.match(value.strip()) if isinstance(value, str) else None
    if not match:
        raise ValueError(
            f"{value!r} is not a Kubernetes quantity; use a non-negative number with an "
            "optional suffix, e.g. 500m, 2, 512Mi, 10Gi"
        )
    return Decimal(match["num"]) * _SUFFIX[match["suffix"] or ""]


def _check(value: str | int | float) -> str:
    text = str(value)
    parse_quantity(text)
    return text


def _positive(value: str) -> str:
    if parse_quantity(value) <= 0:
        raise ValueError(f"{value!r} must be greater than zero")
    return value


Quantity = Annotated[str | int | float, AfterValidator(_check)]
"""A non-negative quantity such as 500m or 10Gi (numbers are accepted and kept as text)."""

PositiveQuantity = Annotated[Quantity, AfterValidator(_positive)]
