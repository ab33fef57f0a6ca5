"""The images a run generates besides MNIST: non-digits and photo-path digits to train on, and the report images its
"not a digit" rule is calibrated and measured on; made once (the parts in parallel processes on two cores or more),
cached in the run folder, and reused by export, bench and a resumed run.

Example:

>>> from edgedigits.data import load_splits
>>> from edgedigits.train import TrainConfig
>>> from edgedigits.train.extras import with_negatives
>>> splits = load_splits(limit=600)                                          # doctest: +SKIP
>>> x, y = with_negatives(splits, TrainConfig(), print)                       # doctest: +SKIP
>>> len(x) > len(splits.x_train)                                              # doctest: +SKIP
True
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from edgedigits import __version__
from edgedigits.runs import write_run_file
from edgedigits.train.config import TrainConfig
from edgedigits.train.targets import NOT_A_DIGIT

__all__ = ["PARALLEL_MIN_IMAGES", "PHOTO_CALIBRATION_IMAGES", "REPORT_PARTS", "Background", "cores", "load_npz",
           "make_nondigits", "make_report_images", "npz_bytes", "report_images", "report_key", "validation_photo_digits",
           "with_negatives"]


def with_negatives(splits, config: TrainConfig, log, cache: Path | None = None):
    """The training digits plus, when the run learns "not a digit", ``config.negatives`` x as many generated non-digits
    (label 10, held-out kind excluded; ``config.photo_negatives`` of them through the runtime's photo path) and
    ``config.photo_digits`` x as many training digits prepared by the photo path (:mod:`edgedigits.train.photo_digits`,
    labelled).

    Args:
      splits: the run's data splits.
      config: the run's options.
      log: receives a line per step.
      cache: a file for the generated images (the run folder's :data:`~edgedigits.runs.EXTRAS_FILE`): reused when it
        was made by the same options from the same training digits (export's QAT fine-tune, a resumed run), else
        (re)written.

    Returns:
      ``(images uint8 (N, 28, 28), labels (N,))``: the digits first, then the non-digits, then the photo digits.
    """
    if not config.negatives:
        return splits.x_train, splits.y_train
    key = _extras_key(splits, config)
    cached = load_npz(cache, key)
    if cached is not None and {"x", "y"} <= cached.keys():
        log(f"reusing {len(cached['x'])} generated non-digits and photo-path digits from {cache}")
        return (np.concatenate([splits.x_train, cached["x"].astype(np.uint8, copy=False)]),
                np.concatenate([splits.y_train.astype(np.int64), cached["y"].astype(np.int64, copy=False)]))
    from edgedigits.train.negatives import variant_kinds
    from edgedigits.train.photo_digits import photo_digits

    started = time.perf_counter()
    count = int(round(config.negatives * len(splits.x_train)))
    holdout = [config.holdout_kind] if config.holdout_kind else []
    share = int(round(config.photo_negatives * count)) if config.photo_digits else 0
    wanted = int(round(config.photo_digits * len(splits.x_train)))
    # Three independent parts, each with its own random stream, so the images do not depend on where they are made.
    # With two cores or more and a full-size run: the non-digits in a second process, while this one renders the
    # photo-path digits and a third prepares them (preprocess_image) in order: about half the time of doing it all here.
    parallel = cores() > 1 and count + wanted >= PARALLEL_MIN_IMAGES
    with Background(make_nondigits, count, seed=config.seed, holdout=holdout, digits=splits.x_train,
                     photo_share=share, variant=config.negative_variant, parallel=parallel) as nondigits:
        px, py = photo_digits(splits.x_train, splits.y_train, wanted, seed=config.seed, workers=1 if parallel else 0)
        photo_seconds = time.perf_counter() - started
        images, made = nondigits.result()
    kinds = [k for k in variant_kinds(config.negative_variant) if k not in holdout]
    where = " (in parallel)" if parallel else ""
    variant = "" if config.negative_variant == "standard" else f"; variant {config.negative_variant}"
    log(f"generated {count} non-digits ({', '.join(kinds)}; held out: {config.holdout_kind or 'none'}{variant}) "
        f"in {made['seconds']:.1f}s{where}")
    if share:
        log(f"put {made['prepared']} of the non-digits through the runtime's photo path "
            f"({share - made['prepared']} refused by it, kept as drawn) in {made['photo_seconds']:.1f}s{where}")
    if wanted:
        log(f"rendered {len(px)} training digits as photos through the runtime's photo path in {photo_seconds:.1f}s{where}")
    log(f"generated images ready in {time.perf_counter() - started:.1f}s")
    xs = [splits.x_train, images]
    ys = [splits.y_train.astype(np.int64), np.full(count, NOT_A_DIGIT, dtype=np.int64)]
    if wanted:
        xs.append(px)
        ys.append(py)
    if cache is not None:
        write_run_file(lambda p: p.write_bytes(npz_bytes({"x": np.concatenate(xs[1:]), "y": np.concatenate(ys[1:])}, key)), cache)
    return np.concatenate(xs), np.concatenate(ys)


PARALLEL_MIN_IMAGES = 5000  # fewer generated images than this are made in-process (a new process costs ~1-2 s)


def make_nondigits(count: int, *, seed: int, holdout, digits: np.ndarray, photo_share: int,
                   variant: str = "standard") -> tuple[np.ndarray, dict]:
    """``count`` generated non-digits (:func:`edgedigits.train.negatives.generate`, ``holdout`` kinds left out), the
    first ``photo_share`` of them put through the photo path; and how long each part took (seconds) and how many the
    photo path prepared."""
    from edgedigits.train.negatives import generate

    started = time.perf_counter()
    images, _ = generate(count, seed=seed, exclude=holdout, digits=digits, variant=variant)
    made = {"seconds": time.perf_counter() - started, "prepared": 0, "photo_seconds": 0.0}
    if photo_share:  # some of them as the device sees them too: the photo path's soft look is no clue
        from edgedigits.train.photo_digits import through_photo_path

        started = time.perf_counter()
        images[:photo_share], done = through_photo_path(images[:photo_share], seed=seed)
        made.update(prepared=int(done.sum()), photo_seconds=time.perf_counter() - started)
    return images, made


def cores() -> int:
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Background:
    """``fn(*args, **kwargs)`` computed in a spawned process (when asked and this machine has two cores or more) while
    the caller goes on; :meth:`result` returns its value, computing it here when no process could be used. Use as a
    context manager: leaving it early (an error, Ctrl-C) stops the process instead of waiting for it.

    Spawned, not forked: the caller may have TensorFlow's threads running. Only pure functions of their arguments
    are run this way, so the value is the one an in-process call gives.
    """

    def __init__(self, fn, *args, parallel: bool = True, **kwargs):
        self._call = (fn, args, kwargs)
        self._pool = self._future = None
        if parallel and cores() > 1:
            try:
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor

                self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
                self._future = self._pool.submit(fn, *args, **kwargs)
            except (OSError, RuntimeError, ValueError):  # no processes here (sandbox, limits): compute in-process
                self.close()
                self._future = None

    @property
    def parallel(self) -> bool:
        """True when the value comes from the second process."""
        return self._future is not None

    def result(self):
        if self._future is not None:
            from concurrent.futures.process import BrokenProcessPool

            try:
                return self._future.result()
            except BrokenProcessPool:  # the process died (e.g. killed for memory): compute in-process
                self.close()
                self._future = None
        fn, args, kwargs = self._call
        return fn(*args, **kwargs)

    def close(self) -> None:
        if self._pool is None:
            return
        if self._future is not None and not self._future.done():
            for proc in list((getattr(self._pool, "_processes", None) or {}).values()):
                proc.terminate()  # the caller gave up: do not wait for the work
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _extras_key(splits, config: TrainConfig) -> str:
    import hashlib

    from edgedigits.train.negatives import font_source

    digest = hashlib.sha256(np.ascontiguousarray(splits.x_train).tobytes()).hexdigest()[:16]
    key = {"seed": config.seed, "negatives": config.negatives, "photo_digits": config.photo_digits,
           "photo_negatives": config.photo_negatives, "holdout_kind": config.holdout_kind,
           "train_digits": digest, "fonts": font_source(), "version": __version__}
    if config.negative_variant != "standard":  # only then: the standard runs' saved images stay valid
        key["negative_variant"] = config.negative_variant
    return json.dumps(key, sort_keys=True)


def validation_photo_digits(splits, config: TrainConfig):
    """Validation digits prepared by the photo path (uint8 images, labels) for calibrating the reject threshold, or
    None when the run uses no photo digits. Drawn with :data:`~edgedigits.train.negatives.REPORT_SEED` (train, export and
    bench see the same images)."""
    if not config.negatives or not config.photo_digits:
        return None
    from edgedigits.train.negatives import REPORT_SEED
    from edgedigits.train.photo_digits import photo_digits

    return photo_digits(splits.x_val, splits.y_val, min(len(splits.x_val), PHOTO_CALIBRATION_IMAGES), seed=REPORT_SEED)


PHOTO_CALIBRATION_IMAGES = 3000  # validation digits rendered as photos for calibration

REPORT_PARTS = ("photo", "holdout", "trained")


def report_images(splits, config: TrainConfig, *, parts=REPORT_PARTS, cache: Path | None = None) -> dict:
    """The generated images a run's "not a digit" rule is calibrated and measured on (validation data and generated
    images only, never the test set), the same for train, export and bench.

    Args:
      splits: the run's data splits (its validation digits are drawn from).
      config: the run's options.
      parts: which to make when they are not cached: ``"photo"`` (:func:`validation_photo_digits`), ``"holdout"``
        (:data:`~edgedigits.train.negatives.HOLDOUT_IMAGES` images of the held-out kind), ``"trained"`` (as many of
        the trained kinds).
      cache: the run folder's :data:`~edgedigits.runs.REPORT_FILE` (written by ``edgedigits train``): read when it
        was made from the same validation digits and options, else ignored (nothing is written here).

    Returns:
      A dict of uint8 image arrays and labels: ``photo_x``, ``photo_y`` (when the run uses photo-path digits),
      ``holdout_x`` (when the run holds a kind out), ``trained_x`` and ``trained_kinds`` (kind names); a cached file
      gives every part it holds.
    """
    cached = load_npz(cache, report_key(splits, config))
    return cached if cached is not None else make_report_images(splits, config, parts)


def make_report_images(splits, config: TrainConfig, parts=REPORT_PARTS) -> dict:
    """:func:`report_images` made afresh (a pure function of its arguments: run in a second process by ``train``)."""
    from edgedigits.train.negatives import HOLDOUT_IMAGES, REPORT_SEED, generate

    out = {}
    if "photo" in parts:
        photos = validation_photo_digits(splits, config)
        if photos is not None:
            out["photo_x"], out["photo_y"] = photos
    holdout = [config.holdout_kind] if config.holdout_kind else []
    if "holdout" in parts and holdout:
        out["holdout_x"] = generate(HOLDOUT_IMAGES, seed=REPORT_SEED, kinds=holdout, digits=splits.x_val)[0]
    if "trained" in parts:
        out["trained_x"], out["trained_kinds"] = generate(HOLDOUT_IMAGES, seed=REPORT_SEED, exclude=holdout,
                                                          digits=splits.x_val)
    return out


def report_key(splits, config: TrainConfig) -> str:
    import hashlib

    from edgedigits.train.negatives import HOLDOUT_IMAGES, REPORT_SEED, font_source

    digest = hashlib.sha256(np.ascontiguousarray(splits.x_val).tobytes() + np.ascontiguousarray(splits.y_val).tobytes())
    photos = bool(config.negatives and config.photo_digits)
    return json.dumps({"validation_digits": digest.hexdigest()[:16], "seed": REPORT_SEED, "images": HOLDOUT_IMAGES,
                       "photo_images": PHOTO_CALIBRATION_IMAGES if photos else 0, "holdout_kind": config.holdout_kind,
                       "fonts": font_source(), "version": __version__}, sort_keys=True)


def npz_bytes(arrays: dict, key: str) -> bytes:
    """A run folder's cache file (the generated training images, the report images): ``arrays`` and the ``key`` of
    the data and options they were made from, as compressed npz bytes (read back by :func:`load_npz`)."""
    import io

    buf = io.BytesIO()
    np.savez_compressed(buf, key=np.array(key), **arrays)
    return buf.getvalue()


def load_npz(cache: Path | None, key: str) -> dict | None:
    """The arrays of a cache file written by :func:`npz_bytes` with this ``key``; None when it is missing, unreadable,
    or was made from other data or options (then the caller makes them again)."""
    if cache is None or not cache.is_file():
        return None
    try:
        with np.load(cache) as data:
            if str(data["key"]) != key:
                return None
            return {name: data[name] for name in data.files if name != "key"}
    except (OSError, ValueError, KeyError):  # unreadable or from another version: make them again
        return None
