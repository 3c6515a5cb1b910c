"""The bundled example run (made by scripts/make_example.py) ships with the package and is what it says."""

import json

from grokviz.cli import main
from grokviz.core.example import example_path


def test_info_example(capsys):
    assert example_path().stat().st_size <= 25 * 1024 * 1024
    assert main(["info", "--example", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["task"] == "add" and info["p"] == 113 and info["epochs"] == 25_000
    assert info["test_acc"] == 1.0 and info["test_loss"] < 1e-5
    assert 10_000 < info["grokked_epoch"] < 16_000
    assert len(info["key_freqs"]) >= 3
