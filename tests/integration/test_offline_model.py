"""The committed offline model is reproducible: retraining from the labelled CSV
gives the same bytes as classifier/model/offline-model.bin, and docs/classifier.md
("Reproducing the model") states the true checksums of both files.

The CSV is not in the repository; it sits in shared/ beside the clone
(../shared/data/issues-labeled-train.csv from the repository root, the default
of `make train-model`), or wherever DAI_TRAIN_DATA points. Without it the
retraining test is skipped and says why; the checksum of the committed model
is checked either way.
"""
import hashlib
import os
import re
import subprocess
from pathlib import Path

import pytest

import daitest

REPO = daitest.REPO
MODEL = REPO / "classifier" / "model" / "offline-model.bin"
DOC = REPO / "docs" / "classifier.md"
DATA = Path(os.environ.get("DAI_TRAIN_DATA",
                           REPO.parent / "shared" / "data" / "issues-labeled-train.csv"))


def trainer():
    """dispatchai-train from the build under test (build/tools beside build/tests)."""
    tool_dir = os.environ.get("DAI_TOOL_DIR")
    base = Path(tool_dir).parent if tool_dir else REPO / "build"
    path = base / "tools" / "dispatchai-train"
    if not path.exists():
        pytest.fail(f"{path} not built (make all)")
    return path


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def documented_sha256(name):
    """The sha256 docs/classifier.md gives for a file, from its
    `<64 hex>  <name>` line (sha256sum's format)."""
    m = re.search(r"^\s*([0-9a-f]{64})  (?:\S*/)?" + re.escape(name) + r"\s*$",
                  DOC.read_text(), re.M)
    assert m, f"docs/classifier.md gives no sha256sum line for {name}"
    return m.group(1)


def test_docs_give_the_committed_models_checksum():
    assert sha256(MODEL) == documented_sha256("offline-model.bin"), \
        "classifier/model/offline-model.bin changed: update the checksum in docs/classifier.md"


def test_retraining_gives_the_committed_model_byte_for_byte(tmp_path):
    if not DATA.is_file():
        pytest.skip(f"training data {DATA} is absent (shared/ is not beside the clone; "
                    "set DAI_TRAIN_DATA to its path)")
    assert sha256(DATA) == documented_sha256("issues-labeled-train.csv"), \
        f"{DATA} is not the CSV the model was trained on (sha256 differs from docs/classifier.md)"
    out = tmp_path / "offline-model.bin"
    run = subprocess.run([str(trainer()), "train", "--data", str(DATA), "--out", str(out)],
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr
    retrained = out.read_bytes()
    committed = MODEL.read_bytes()
    assert len(retrained) == len(committed), \
        f"retrained model has {len(retrained)} bytes, the committed one {len(committed)}"
    first = next((i for i, (a, b) in enumerate(zip(retrained, committed)) if a != b), None)
    assert first is None, (f"retrained model differs from classifier/model/offline-model.bin "
                           f"from byte {first} on: featurisation or training changed; retrain "
                           "(make train-model) and update docs/classifier.md, or undo the change")
