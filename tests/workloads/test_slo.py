"""SLO thresholds from slo.yaml and the gate's verdicts (no network)."""

from pathlib import Path

import pytest
import yaml

from mlplatform.scenarios.load import SLO_PATH, LoadResult, SloThresholds, evaluate, load_slo

pytestmark = pytest.mark.workloads

SLO = SloThresholds(max_p95_ms=100, max_p99_ms=200, max_error_rate=0.01, min_rps=50)


def result(**kw: float) -> LoadResult:
    base = dict(
        requests=1000,
        failures=0,
        fail_ratio=0.0,
        rps=100.0,
        p50_ms=5.0,
        p95_ms=20.0,
        p99_ms=40.0,
        avg_ms=6.0,
        max_ms=60.0,
    )
    return LoadResult(**{**base, **kw})


def test_every_profile_in_slo_yaml_loads() -> None:
    assert load_slo() == load_slo("cluster")
    for name in ("cluster", "upgrade", "local"):
        assert load_slo(name).max_p95_ms <= load_slo(name).max_p99_ms


def test_gate_passes_within_thresholds() -> None:
    gate = evaluate(result(), SLO)
    assert gate.passed and gate.reasons == []


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"fail_ratio": 0.02}, "error rate 0.0200 > 0.01"),
        ({"p95_ms": 150}, "p95 150 ms > 100 ms"),
        ({"p99_ms": 250}, "p99 250 ms > 200 ms"),
        ({"rps": 10}, "throughput 10.0 rps < 50.0 rps"),
        ({"requests": 0, "rps": 0}, "no requests completed"),
    ],
)
def test_gate_names_each_violation(kw: dict, reason: str) -> None:
    gate = evaluate(result(**kw), SLO)
    assert not gate.passed and reason in gate.reasons


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        ({"max_p95_ms": 1, "max_p99_ms": 1, "max_error_rate": 0}, "missing keys"),
        (
            {"max_p95_ms": 1, "max_p99_ms": 1, "max_error_rate": 0, "min_rps": 1, "p42": 1},
            "unknown keys",
        ),
        ({"max_p95_ms": -1, "max_p99_ms": 1, "max_error_rate": 0, "min_rps": 1}, "max_p95_ms"),
        ({"max_p95_ms": 1, "max_p99_ms": 1, "max_error_rate": 2, "min_rps": 1}, "max_error_rate"),
        ({"max_p95_ms": "fast", "max_p99_ms": 1, "max_error_rate": 0, "min_rps": 1}, "max_p95_ms"),
    ],
)
def test_bad_thresholds_are_rejected(profile: dict, message: str, tmp_path: Path) -> None:
    path = tmp_path / "slo.yaml"
    path.write_text(yaml.safe_dump({"profiles": {"x": profile}}))
    with pytest.raises(ValueError, match=message):
        load_slo("x", path)


def test_unknown_profile_is_named() -> None:
    with pytest.raises(ValueError, match="no SLO profile 'nightly'"):
        load_slo("nightly", SLO_PATH)
