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


def test_labels_mark_the_protocols_known_and_new_classes():
    from benchmark.core.paths import PROTOCOLS_DIR
    from benchmark.protocol import Protocol
    from datasets.synthface.tools.contact_sheet import role
    basic = Protocol.from_file(PROTOCOLS_DIR / "synthface-basic.yaml")
    compound = Protocol.from_file(PROTOCOLS_DIR / "synthface-compound.yaml")
    assert [role(c, basic) for c in ("fear", "anger", "sadly fearful")] == ["known", "new", "not in protocol"]
    assert [role(c, compound) for c in ("anger", "sadly fearful")] == ["known", "new"]


def test_contact_sheet_of_expression_model_4(tmp_path):
    out = tmp_path / "sheet.png"
    assert main(["--out", str(out), "--per-class", "3", "--image-size", "24", "--zoom", "1",
                 "--expression-model", "4", "--protocol", "synthface-v4-basic"]) == 0
    assert Image.open(out).size[1] == 18 * (24 + GAP)  # a row per annotated class, at most 3 faces each
