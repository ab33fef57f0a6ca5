"""TrainConfig checks every option up front, naming what it received."""

from __future__ import annotations

import pytest

pytest.importorskip("tensorflow")
pytestmark = [pytest.mark.needs_tf]

from edgedigits.errors import UsageError  # noqa: E402
from edgedigits.train import TrainConfig  # noqa: E402


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"epochs": 0}, "--epochs must be a whole number >= 1, got 0"),
        ({"epochs": -3}, "got -3"),
        ({"batch_size": 0}, "--batch-size"),
        ({"learning_rate": 0.0}, "--lr"),
        ({"lr_schedule": "fancy"}, "--lr-schedule must be one of"),
        ({"early_stopping": -1}, "--early-stopping"),
        ({"limit": 5}, "--limit must be at least 20"),
        ({"arch": "sead"}, "did you mean 'seed'"),
        ({"resume": True}, "--resume needs --out"),
        ({"elastic": -1.0}, "--elastic must be in"),
        ({"ema": 0.2}, "--ema must be 0"),
        ({"ema": 1.0}, "--ema must be 0"),
        ({"label_smoothing": 0.5}, "--label-smoothing"),
        ({"weight_decay": -0.01}, "--weight-decay must be in"),
        ({"weight_decay": 2.0}, "--weight-decay must be in"),
        ({"sam": -0.05}, "--sam must be a radius in"),
        ({"sam": 2.0}, "--sam must be a radius in"),
        ({"sam": 0.05, "sam_epochs": 0}, "--sam-epochs must be a whole number >= 1"),
        ({"sam_epochs": 2.5}, "--sam-epochs must be"),
        ({"distill_weight": 0.0}, "--distill-weight"),
        ({"temperature": 50.0}, "--temperature"),
        ({"teacher_targets": "sometimes"}, "--teacher-targets must be one of cached, online"),
        ({"resume": True, "overwrite": True, "out": "x"}, "contradict"),
        ({"negatives": -0.1}, "--negatives must be a share"),
        ({"photo_digits": 3.0}, "--photo-digits must be a share"),
        ({"photo_negatives": 1.5}, "--photo-negatives must be a share"),
        ({"holdout_kind": "unicorns"}, "unknown non-digit kind"),
        ({"negative_variant": "close"}, "unknown non-digit variant 'close'; choose from standard, near"),
        ({"epoch_basis": "images"}, "--epoch-basis must be one of distinct, digits, all"),
    ],
)
def test_bad_options_are_refused(changes, message):
    with pytest.raises(UsageError, match=message):
        TrainConfig(**changes).validate()


def test_round_trips_through_json(tmp_path):
    config = TrainConfig(arch="seed", epochs=3, limit=100)
    (tmp_path / "config.json").write_text(config.to_json())
    assert TrainConfig.from_file(tmp_path / "config.json") == config


def test_epochs_count_digits_and_non_digits_and_older_runs_keep_counting_everything(tmp_path):
    import json

    import numpy as np

    from edgedigits.train.trainer import NOT_A_DIGIT_LABEL, epoch_images

    labels = np.concatenate([np.arange(100) % 10, np.full(50, NOT_A_DIGIT_LABEL), np.arange(100) % 10])
    assert TrainConfig().epoch_basis == "distinct"
    assert epoch_images(TrainConfig(), 100, labels) == 150  # the photo-path copies of the digits do not count
    assert epoch_images(TrainConfig(epoch_basis="digits"), 100, labels) == 100
    assert epoch_images(TrainConfig(epoch_basis="all"), 100, labels) == 250
    assert epoch_images(TrainConfig(negatives=0), 100, labels[:100]) == 100  # digits only: every basis is one pass
    # a config.json saved before the option existed: that run counted every image (a resumed run goes on so)
    data = json.loads(TrainConfig(arch="seed").to_json())
    del data["epoch_basis"]
    (tmp_path / "config.json").write_text(json.dumps(data))
    assert TrainConfig.from_file(tmp_path / "config.json").epoch_basis == "all"


def test_runs_saved_before_online_distillation_existed_read_their_soft_targets_from_the_cache(tmp_path):
    import json

    data = json.loads(TrainConfig(teacher=["runs/a"]).to_json())
    del data["teacher_targets"]
    (tmp_path / "config.json").write_text(json.dumps(data))
    assert TrainConfig.from_file(tmp_path / "config.json").teacher_targets == "cached"
