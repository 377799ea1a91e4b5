"""The contact-sheet command writes one labelled row per class."""
from __future__ import annotations

from PIL import Image

from datasets.synthface.tools.contact_sheet import GAP, main


def test_contact_sheet_has_a_row_per_class(tmp_path):
    out = tmp_path / "sheet.png"
    assert main(["--out", str(out), "--per-class", "2", "--image-size", "24", "--zoom", "2"]) == 0
    sheet = Image.open(out)
    tile = 24 * 2
    assert sheet.size[1] == 18 * (tile + GAP) and sheet.size[0] > 2 * (tile + GAP) + 100
    assert main(["--out", str(out), "--per-class", "0"]) == 2
