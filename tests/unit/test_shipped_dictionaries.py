"""data/dictionaries, the shipped converged dictionaries: within its 100 MiB budget, every dictionary with a card
that reads, files matching the card's checksums, a recorded model others can load, weights that load, and a row in
the folder's README. With nothing shipped the folder still has its README and the budget holds (trivially, and
honestly: tests/integration/test_ship_dictionaries.py runs the same audit on folders it ships into)."""

from __future__ import annotations

from pathlib import Path

from saes.shipped import BUDGET_BYTES, audit, shipped, total_bytes

FOLDER = Path(__file__).resolve().parents[2] / "data" / "dictionaries"


def test_the_shipped_folder_keeps_its_budget_and_every_card_holds():
    assert (FOLDER / "README.md").is_file()
    assert total_bytes(FOLDER) <= BUDGET_BYTES == 100 * 2**20
    assert audit(FOLDER) == []


def test_the_readme_names_every_shipped_dictionary():
    readme = (FOLDER / "README.md").read_text()
    missing = [s.name for s in shipped(where=FOLDER) if s.name not in readme]
    assert not missing, f"add these to data/dictionaries/README.md: {missing}"
