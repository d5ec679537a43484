from decimal import Decimal

import pytest

from mlplatform.quantity import parse_quantity


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Decimal("0.5")),
        ("2", Decimal(2)),
        ("1Gi", Decimal(2**30)),
        ("1.5k", Decimal(1500)),
    ],
)
def test_parses(text, value):
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["-1", "1Gb", "abc", "", "1.2.3"])
def test_rejects_with_the_accepted_forms(text):
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        parse_quantity(text)
