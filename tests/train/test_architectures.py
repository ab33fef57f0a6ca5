"""The architecture registry and its single factory."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytestmark = [pytest.mark.needs_tf]

from edgedigits.errors import UsageError  # noqa: E402
from edgedigits.train import architectures as archs  # noqa: E402


def test_registry_lists_seed_and_edge():
    assert {"seed", "edge"} <= set(archs.list_architectures())


def test_unknown_name_suggests_the_closest():
    with pytest.raises(UsageError, match="unknown architecture 'egde'; did you mean 'edge'"):
        archs.get_architecture("egde")


def test_duplicate_registration_is_refused():
    with pytest.raises(ValueError, match="registered twice"):
        archs.register("seed", "again")(lambda keras: None)


@pytest.mark.parametrize("name", archs.list_architectures())
def test_models_take_mnist_and_return_probabilities(name):
    model = archs.create_model(name)
    assert model.name == name
    assert tuple(model.input_shape) == (None, 28, 28, 1)
    out = model(np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32), training=False).numpy()
    assert out.shape == (3, 10)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)


def test_seed_macs_match_hand_count():
    # conv1 26*26*32*9 + conv2 11*11*64*32*9 + dense 1600*10
    assert archs.count_macs(archs.create_model("seed")) == 26 * 26 * 32 * 9 + 11 * 11 * 64 * 32 * 9 + 1600 * 10


def test_edge_is_cheaper_than_seed():
    edge, seed = archs.create_model("edge"), archs.create_model("seed")
    assert archs.count_macs(edge) < archs.count_macs(seed)


def test_edge_macs_match_hand_count():
    # conv 28*28*16*9*1 + conv 14*14*32*9*16 + conv (valid) 5*5*40*9*32 + conv (valid) 3*3*40*9*40 + dense 3*3*40*10
    expected = 28 * 28 * 16 * 9 + 14 * 14 * 32 * 9 * 16 + 5 * 5 * 40 * 9 * 32 + 3 * 3 * 40 * 9 * 40 + 360 * 10
    assert archs.count_macs(archs.create_model("edge")) == expected


def test_edge_stays_within_the_budget_of_the_layout_it_replaced():
    """Issue 13: at most the 16-32-64 layout's MACs (1,925,568 with the "not a digit" head) and ~37k parameters
    (the 50 KB int8 file at ~1.3 bytes per parameter)."""
    from edgedigits._tf import tf_and_keras
    from edgedigits.train.trainer import with_not_a_digit_class

    _, keras = tf_and_keras()
    model = with_not_a_digit_class(keras, archs.create_model("edge", keras))
    assert archs.count_macs(model) <= 28 * 28 * 16 * 9 + 14 * 14 * 32 * 9 * 16 + 7 * 7 * 64 * 9 * 32 + 576 * 11
    assert model.count_params() <= 37_000


def test_tiny_macs_match_hand_count_and_fit_a_microcontroller():
    # conv 28*28*8*9 + conv (valid) 12*12*14*9*8 + conv (valid) 4*4*40*9*14 + dense 2*2*40*10
    tiny = archs.create_model("tiny")
    expected = 28 * 28 * 8 * 9 + 12 * 12 * 14 * 9 * 8 + 4 * 4 * 40 * 9 * 14 + 160 * 10
    assert archs.count_macs(tiny) == expected <= 300_000
    assert tiny.count_params() < 9_000  # int8 weights well under the 15 KB budget


def test_vgg_teacher_macs_match_hand_count_and_outweigh_edge():
    # conv 28*28*32*9 + 14*14*(48*9*32 + 64*9*48) + 7*7*(96*9*64 + 128*9*96) + dense 3*3*128*10
    vgg = archs.create_model("vgg")
    expected = 28 * 28 * 32 * 9 + 14 * 14 * (48 * 9 * 32 + 64 * 9 * 48) + 7 * 7 * (96 * 9 * 64 + 128 * 9 * 96) + 1152 * 10
    assert archs.count_macs(vgg) == expected
    assert expected > 8 * archs.count_macs(archs.create_model("edge"))  # a teacher, not a device model
    assert "Teacher" in archs.get_architecture("vgg").summary


def test_readme_names_every_architecture():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "`--arch " + "\\|".join(sorted(archs.list_architectures(), key=lambda n: n != "edge")) + "`" in readme


def test_recipes_are_valid_train_options():
    from edgedigits.train import TrainConfig

    for name in archs.list_architectures():
        TrainConfig(arch=name, **archs.get_architecture(name).recipe).validate()
