"""The command surface: `python -m astro <command>`, each with --help."""

import subprocess
import sys

import pytest

from astro.__main__ import COMMANDS, main
from tests.conftest import ROOT


def test_help_lists_every_command():
    out = subprocess.run(
        [sys.executable, "-m", "astro", "--help"], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert out.returncode == 0 and all(name in out.stdout for name in COMMANDS)


@pytest.mark.parametrize("command", [c for c in COMMANDS if c not in ("prepare", "ui")])
def test_each_argparse_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0 and "usage:" in capsys.readouterr().out


def test_prepare_is_the_hydra_app_with_its_help():
    out = subprocess.run(
        [sys.executable, "-m", "astro", "prepare", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert out.returncode == 0 and "Powered by Hydra" in out.stdout and "data:" in out.stdout


def test_an_unknown_command_names_the_choices(capsys):
    with pytest.raises(SystemExit) as done:
        main(["report"])
    assert done.value.code == 2 and "compare" in capsys.readouterr().err
