"""docs/settings.md is what `scripts/settings-reference` renders from the settings classes today."""

from __future__ import annotations

from pathlib import Path

from bap.settings import BapSettings
from bpp.settings import BppSettings
from participant.network.reference import MEANINGS, main, render
from participant.settings import RegistrySettings

DOC = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


def test_the_committed_reference_is_up_to_date() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), "run scripts/settings-reference"


def test_every_setting_says_what_it_means() -> None:
    for cls in (BapSettings, BppSettings, RegistrySettings):
        silent = [name for name, f in cls.model_fields.items() if not f.description and name not in MEANINGS]
        assert not silent, f"{cls.__name__}: describe {silent} (Field(description=…) or reference.MEANINGS)"


def test_check_mode_reports_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "settings.md"
    stale.write_text("# old\n")
    assert main(["--output", str(stale), "--check"]) == 1
    assert main(["--output", str(stale)]) == 0
    assert main(["--output", str(stale), "--check"]) == 0
