"""`train --sample N`: a stratified sample drawn in the database for windows too big for one machine."""

from churndb.training.dataset import load_training_set
from churndb.training.spec import LABEL, TrainingSpec
from tests.conftest import TRAINED_ROWS


def test_sample_keeps_each_class_share_and_is_repeatable(trained_db_url):
    full = load_training_set(trained_db_url, TrainingSpec()).frame
    sample = load_training_set(trained_db_url, TrainingSpec(sample=1_000)).frame
    again = load_training_set(trained_db_url, TrainingSpec(sample=1_000)).frame
    other = load_training_set(trained_db_url, TrainingSpec(sample=1_000, seed=7)).frame

    assert abs(len(sample) - 1_000) <= 1                                     # rounding per class
    assert list(sample.columns) == list(full.columns)
    for label in (0, 1):                                                      # stratified: shares kept
        share_full = (full[LABEL] == label).mean()
        assert abs((sample[LABEL] == label).sum() - 1_000 * share_full) <= 1
    assert set(sample["customer_id"]) <= set(full["customer_id"])
    assert sample["customer_id"].tolist() == again["customer_id"].tolist()    # same seed, same rows
    assert len(set(sample["customer_id"]) ^ set(other["customer_id"])) > 500  # another seed, another sample
    joined = sample.merge(full, on="customer_id", suffixes=("", "_full"))     # rows come through unchanged
    assert (joined["tenure_months"] == joined["tenure_months_full"]).all()
    assert (joined[LABEL] == joined[f"{LABEL}_full"]).all()


def test_train_on_a_sample_records_it(cli, trained_db_url):
    res = cli("train", "--sample", "1200", "--json")
    assert res.code == 0, res.err
    training = res.json["training"]
    assert training["sample"]["drawn_from"] == TRAINED_ROWS
    assert training["rows_train"] + training["rows_test"] == training["sample"]["rows"]
    assert abs(training["sample"]["rows"] - 1_200) <= 1
    assert cli("train", "--sample", "5").code != 0
