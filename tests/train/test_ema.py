"""--ema on short runs: the averaging momentum is capped so the initial weights are forgotten within the run."""

from edgedigits.train.trainer import ema_momentum


def test_full_runs_keep_the_asked_momentum():
    assert ema_momentum(0.999, 40 * 430) == 0.999
    assert ema_momentum(0.0, 40 * 430) == 0.0  # off stays off


def test_short_runs_forget_their_start():
    # 116 steps (--limit 4000 --epochs 4): 0.999 would keep ~89% of the random initial weights
    momentum = ema_momentum(0.999, 116)
    assert momentum == 1 - 10 / 116
    assert momentum ** 116 < 1e-4
    assert ema_momentum(0.999, 3) == 0.5
