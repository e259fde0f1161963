"""The benchmarks run end to end at tiny sizes (their real sizes are for `benchmarks/`)."""

from __future__ import annotations

import pytest

from benchmarks import bench_overhead, bench_speedup, bench_startup

pytestmark = pytest.mark.slow


def test_overhead_benchmark_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_overhead.main(["--smoke", "--workloads", "cpu,files"]) == 0
    assert "worst ratio" in capsys.readouterr().out


def test_speedup_benchmark_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_speedup.main(["--smoke"]) == 0
    err = capsys.readouterr().err
    assert "speedup" in err and "ideal" in err


def test_startup_benchmark_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_startup.main(["--smoke"]) == 0
    assert "process" in capsys.readouterr().err
