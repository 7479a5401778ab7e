"""Models exported for offline use score exactly as the database scorer does; a changed byte is refused."""

import pandas as pd
import pandas.testing as pdt
import pytest

from churndb import ChurnScorer
from churndb.base.errors import ArtifactError
from churndb.model.sample import generate
from tests.conftest import TEST_SIGNING_KEY


@pytest.fixture
def exported(cli, trained_db_url, tmp_path):
    out = tmp_path / "model-1"
    res = cli("models", "export", "1", "--out", out, "--json")
    assert res.code == 0, res.err
    assert res.json["path"] == str(out) and res.json["model_version"] == 1
    return out


def test_an_exported_model_scores_exactly_as_the_database_scorer(exported):
    rows = generate(500, seed=31).drop(columns=["is_churn"])
    online = ChurnScorer.from_database(model=1)
    offline = ChurnScorer.from_files(exported, key=TEST_SIGNING_KEY)
    assert offline.model_version == 1 and offline.artifact_sha256 == online.artifact_sha256
    pdt.assert_frame_equal(offline.score_batch(rows), online.score_batch(rows))
    one = rows.iloc[7].to_dict()
    assert offline.score_customer(one) == online.score_customer(one)
    manifest = pd.read_json(exported / "manifest.json", typ="series")
    assert manifest["artifact_sha256"] == online.artifact_sha256 and len(manifest["feature_names"]) > 30


@pytest.mark.parametrize("name", ["artifact.joblib", "manifest.json", "manifest.sig"])
def test_a_changed_byte_anywhere_in_the_export_is_refused(exported, name):
    path = exported / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError):
        ChurnScorer.from_files(exported, key=TEST_SIGNING_KEY)


def test_an_unsigned_export_or_another_key_is_refused(exported):
    with pytest.raises(ArtifactError):
        ChurnScorer.from_files(exported, key="another-key-of-the-same-length-as-a-real-one")
    (exported / "manifest.sig").unlink()
    with pytest.raises(ArtifactError, match="signature"):
        ChurnScorer.from_files(exported, key=TEST_SIGNING_KEY)
