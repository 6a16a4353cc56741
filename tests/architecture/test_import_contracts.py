"""The dependency direction is enforced: ``lint-imports`` keeps the tree and refuses a breach."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = [
    "ticketing",
    "registration_worker",
    "notifications",
    "payments",
    "seatmaps",
    "shared",
    "bank_simulator",
]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(tree: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(tree / "pyproject.toml")],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def tree_copy(tmp_path):
    """The project's packages and contracts, copied so one test may break them."""
    ignore = shutil.ignore_patterns("__pycache__", "static", "templates", "*.png")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_tree_keeps_every_contract():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "bad_import", "broken"),
    [
        ("registration_worker/services.py", "import ticketing.models", "Layers"),
        ("shared/enums.py", "import seatmaps.models", "Layers"),
        ("seatmaps/services.py", "import registration_worker.models", "Layers"),
        ("bank_simulator/server.py", "import shared.enums", "bank simulator"),
    ],
)
def test_an_import_against_the_direction_breaks_the_lint(tree_copy, module, bad_import, broken):
    path = tree_copy / module
    path.write_text(path.read_text() + f"\n{bad_import}  # against the direction\n")

    result = lint_imports(tree_copy)

    assert result.returncode != 0
    broken_lines = result.stdout.split("Broken contracts")[-1]
    assert broken in broken_lines, result.stdout
    assert f"{module.replace('/', '.').removesuffix('.py')} -> {bad_import.split()[1]}" in (
        result.stdout.replace("\n", " ")
    ), result.stdout
