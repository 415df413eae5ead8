"""benchmarks/lazy_folder_memory.py runs end to end on a tiny folder and reports each mode's figures."""
import json

import pytest
from benchmark_scripts import load_script

pytest.importorskip("PIL")


@pytest.mark.slow
def test_the_memory_benchmark_reports_every_mode(monkeypatch, tmp_path, capsys):
    script = load_script(monkeypatch, "lazy_folder_memory")
    script.main(["--images", "24", "--size", "16", "--batch-size", "5", "--json", str(tmp_path / "memory.json")])
    results = json.loads((tmp_path / "memory.json").read_text())["results"]
    assert [r["mode"] for r in results] == ["baseline", "eager", "lazy"]
    assert [r["samples"] for r in results] == [0, 24, 24]
    assert all(r["peak_rss_mib"] > 0 for r in results)
    assert "peak RSS" in capsys.readouterr().out
