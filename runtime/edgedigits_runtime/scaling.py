"""How a model wants its input scaled, and a check of a model the user brings on real MNIST digits.

A digit model answers right only when it is fed the numbers it was trained on: edgedigits' models take
``x / 255`` in [0, 1]; PyTorch's MNIST example takes ``(x / 255 - 0.1307) / 0.3081``; others take 0-255 or
[-1, 1]. A model fed another range answers wrongly and says nothing, so the scaling is stated, never guessed:
``DigitClassifier(path, normalize="mnist")``, ``edgedigits-rt predict --normalize mnist``, or the model's
manifest entry (``"normalize": "mnist"`` or ``{"mean": 0.1307, "std": 0.3081}``). Every scaling here is
torchvision's ``Normalize(mean, std)`` after ``x / 255``: the model is fed ``(x / 255 - mean) / std``.

A model that nothing describes (no manifest entry, no integrity record) is run on :data:`REFERENCE_LABELS`'s
30 MNIST training digits under each named scaling (:func:`judge_scaling`): if another scaling answers clearly
more of them right than the one in use, the classifier says so (an error when the scaling was not stated, a
warning when it was); if none answers most of them right, a warning says the model may not be an MNIST
digit classifier (or takes another layout or polarity).

Example:

>>> parse_scaling("mnist").apply(np.array([0.0, 1.0], np.float32))
array([-0.42421293,  2.8214865 ], dtype=float32)
>>> parse_scaling("0.5,0.5").describe()
'(x / 255 - 0.5) / 0.5'
"""

from __future__ import annotations

import base64
import dataclasses
import difflib
import functools
import math
import zlib

import numpy as np

from edgedigits_runtime.errors import UsageError

__all__ = ["Scaling", "SCALINGS", "DEFAULT_SCALING", "parse_scaling", "reference_digits", "REFERENCE_INDICES",
           "REFERENCE_LABELS", "ScalingVerdict", "judge_scaling"]


@dataclasses.dataclass(frozen=True)
class Scaling:
    """The model is fed ``(x / 255 - mean) / std`` for pixels ``x`` in 0-255 (white ink on black).

    Attributes:
      name: a name of :data:`SCALINGS`, or ``"MEAN,STD"`` for any other.
      mean: subtracted after ``x / 255``.
      std: divided by after that (> 0).
      who: who feeds models this way (for messages and help).
    """

    name: str
    mean: float
    std: float
    who: str = ""

    def apply(self, unit: np.ndarray) -> np.ndarray:
        """float32 values in [0, 1] (``x / 255``) -> the model's input values (float32)."""
        unit = np.asarray(unit, np.float32)
        if self.mean == 0.0 and self.std == 1.0:
            return unit
        return (unit - np.float32(self.mean)) * np.float32(1.0 / self.std)

    @property
    def range(self) -> tuple[float, float]:
        """What black (0) and full white (255) become."""
        return (0.0 - self.mean / self.std + 0.0, (1.0 - self.mean) / self.std)  # + 0.0: no "-0"

    def describe(self) -> str:
        """The formula, e.g. ``x / 255`` or ``(x / 255 - 0.1307) / 0.3081``."""
        if self.mean == 0.0 and self.std == 1.0:
            return "x / 255"
        if self.mean == 0.0:
            return "x" if math.isclose(self.std, 1 / 255, rel_tol=1e-6) else f"x / 255 / {self.std:g}"
        return f"(x / 255 - {self.mean:g}) / {self.std:g}"

    def label(self) -> str:
        """``name (formula, range)`` for messages."""
        low, high = self.range
        return f"{self.name} ({self.describe()}, {low:.3g} to {high:.3g})"

    def as_dict(self) -> dict:
        """The manifest's form: ``{"name", "mean", "std"}``."""
        return {"name": self.name, "mean": self.mean, "std": self.std}


# The named scalings, in the order they are tried and listed (the first is the default: edgedigits' own).
SCALINGS: dict[str, Scaling] = {s.name: s for s in (
    Scaling("unit", 0.0, 1.0, "edgedigits, Keras and TensorFlow tutorials: x / 255, in [0, 1]"),
    Scaling("raw", 0.0, 1 / 255, "pixels as they are, 0-255, as floats"),
    Scaling("mnist", 0.1307, 0.3081, "PyTorch's MNIST example: Normalize((0.1307,), (0.3081,))"),
    Scaling("symmetric", 0.5, 0.5, "[-1, 1]: Normalize((0.5,), (0.5,)), x / 127.5 - 1"),
)}
DEFAULT_SCALING = SCALINGS["unit"]
SCALING_HELP = ("unit (x / 255, in [0, 1]; edgedigits' models), raw (0-255), mnist ((x / 255 - 0.1307) / 0.3081, "
                "PyTorch's MNIST example), symmetric ([-1, 1]), or MEAN,STD (torchvision's Normalize after x / 255)")


def parse_scaling(value, where: str = "normalize") -> Scaling | None:
    """A :class:`Scaling` from a name, ``"MEAN,STD"``, ``(mean, std)``, ``{"mean", "std"}`` or a Scaling; None stays None.

    Raises:
      UsageError: anything else, a std that is not above 0, a number that is not finite (says what is accepted).
    """
    if value is None or isinstance(value, Scaling):
        return value
    if isinstance(value, dict):
        if "mean" not in value and "std" not in value and "name" in value:
            return parse_scaling(value["name"], where)
        pair = (value.get("mean"), value.get("std"))
    elif isinstance(value, str):
        text = value.strip().lower()
        if text in SCALINGS:
            return SCALINGS[text]
        pair = tuple(text.split(",")) if "," in text else None
        if pair is None:
            close = difflib.get_close_matches(text, list(SCALINGS), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise UsageError(f"{where} {value!r} is not a scaling: {hint}give {SCALING_HELP}")
    elif isinstance(value, (tuple, list)):
        pair = tuple(value)
    else:
        raise UsageError(f"{where} must be a name or MEAN,STD; got {type(value).__name__}: give {SCALING_HELP}")
    try:
        mean, std = (float(v) for v in pair)
    except (TypeError, ValueError):
        raise UsageError(f"{where} {value!r} is not MEAN,STD (two numbers, e.g. 0.1307,0.3081): give {SCALING_HELP}") from None
    if not (math.isfinite(mean) and math.isfinite(std)) or std <= 0:
        raise UsageError(f"{where} {value!r}: MEAN must be a number and STD a number above 0 (the model is fed "
                         "(x / 255 - MEAN) / STD)")
    for named in SCALINGS.values():  # "0.1307,0.3081" is mnist: one name for one scaling
        if math.isclose(mean, named.mean, abs_tol=1e-9) and math.isclose(std, named.std, rel_tol=1e-6):
            return named
    return Scaling(f"{mean:g},{std:g}", mean, std)


# --------------------------------------------------------------------------- reference digits

# The first three images of each class in the MNIST training set (these indices, in this order), 28x28 uint8,
# zlib + base64: tests/runtime/test_own_model.py checks them against MNIST itself.
REFERENCE_INDICES = (1, 21, 34, 3, 6, 8, 5, 16, 25, 7, 10, 12, 2, 9, 20, 0, 11, 35, 13, 18, 32, 15, 29, 38, 17, 31, 41, 4,
                     19, 22)
REFERENCE_LABELS = np.repeat(np.arange(10), 3)
_REFERENCE = (
    "eNrtnAlUVVX3wG/JpIyCEyYOKeEQCZkmZqJpOeWsJKJG1j9TMxWHxE8Rp8yBzzFSLO0rR0xLIM0+QDEhTRFHBGUeZBAVHpNw9z73O/c+hvfuPYe1"
    "/v5b6/+tYK8l773785yzz7ln2Hufc68g/L9KnwN44FU2cnsMAI+YqF82wpMC8DDTkBYDMwDhz8mAKzTsB5ofAvhG4RGNGo8Ro/0wp/c46ShDjXCr"
    "0f6tBQFLjVV96RAWXJ+s/45wyBCZh0HxcIcOtex3Q+YB4Fn3Q8XiMLr+h4QXDdC7FbBQMEi324BNgQeOdUVvxN+sjFh6HVoHmcMFI7ajtpqH4IRx"
    "xb0wU//F7zF+r2qUKVC1081pSlgmph/pr2EAuXfpn4trNbegwx/KLSjYwbqrjoGUBTkLjVsGo+TJQb7xIsYvMGGiKFFEUeykAXaD08tE8dYdBhv/"
    "i5xEnOmrZdMRUaL/3vdFVLHpRWJpSoEolk7UpBtPs4sU6OX5gpr5FmNpZE/B9+p8E8Eq1piliuhPP7q1lX9EGzG3QjT4dc5Ql5dTRbH+l3Ge0aIh"
    "M9aFskV1P7oXivfbGrGZdSgZ83obFY41ulidRLzvYliDoUWieC56wYjoc7Fiqb+LcYN5FinNTP9EztTcnhfWKCz3qC3rrr5/W7w18w2hSVjSV+6g"
    "K9ksQmnVHYO0pHNyif5uzNMyZ1HkssMy893NYCOpGkinus9Q+lTDRH1PnM9I9ydFdIY1W8NgwZTRiXoxSxeq4olWgpDMYKclTJI/7yGeViHPVBTv"
    "0s/JtKuOUTGqncwsvxNFX4HBNtUppGVdhbU1ChkLbQ2cFUz/HNS25fzaAdFVy2bob0/SQlPGbZ2NotHINpKVYubw4Y18TKxsYPEoE3EQh60WuWxY"
    "kXirkwUTDcwxmC5Vsg8xioNaofjwLTbqHI9iACfZJyL+astG44vFmLacHOnYPMDJ8Wval1w4tiddXH7kJCsUxYtWHEb7pzcHHZA0S2ldaTlYudWC"
    "Yw6ImMI1FRpg7WL47O8iO6RbnBYVOj9C4E0Glj/xmbCdz+zO8Vn7VISVPGVWUZP3U16BDTHaZZ4p3f+hvNAG0kFPDvuKsu0cNr8BJi9UUlcO+4m6"
    "Cjw2sgHW6RafNV4x9YzlslbkQTs+I258JjXAiEcDjNsF7Z6QbVxFw56Zfd8AK+ayRQ2wSaScN96FcaTiJW7CRBLMZdtLLPis+Hk+IxO57EFldy47"
    "eqNT4x0S1o4frTBnki5fX6ez1k4G6b6nDDDjFuRr2tR2zxOaJqmTM8BAje1FCSQ7CSz2C0DKkY6CMIbB2gcOaCN/fsRgtfIth33mv8L/T7jQTBsi"
    "6xuuOPc5mknStF82lOaE6gDylqpCa2ZjAVa9IdjL7QLvGbWa6UaACDuh9RWsXHMC4Ne33N1rUbMvoWRuS6HvJUgaItiM+KEE6mNRc0A31X5kaBkE"
    "OCm/vSMi6kI/eVAen0QLWqnVXkiQNQhb0o0VBrGesc2/rVnTZP+/lxkHb1VXX2DZ161+xkcREaUkkcGuFm20p2NCB1qj/e2aIOtakq5ho5LHKZ+v"
    "kDwbNbNoof90IeQT7lp2mwRxa5LAZ+Z3SSCP0fL608oOXanxCMy7ziLk+rcJmaTku/qrzTtN3HTlym1CRUxPX/1al3qyKVG+WpxTTUiIKrZ9llSG"
    "7xw6sIOQRFLUPoSUpowbk01l+ZqIOLkmd3eLcFI5WKN5Etl/aq3vHfjDnVGtdZVVVVXHRzR1cOYS7rNNivZhbD80d4+okKM6mBLS0ngKemVeGNZL"
    "gKshmydfSk+hUi5/m2vETmDuGit9YETNWtp076z/5kGRbgqzy2/JoGwOCw1RNLrPsuA+qJbR6t5a8soqGZUf76ItqUcyYnV5+WJmeAHxPFMJy94p"
    "iJGOzGaW2yXKmol6ZCL+1kZvtvc8GR8fHzOgzimmvgEGvyEIgevWpSmtXR9rsNoj/y5KS4PaO2Gw22N+BA1l5VzD1erdyJrLGR62trYqg8rK2x/x"
    "a2/v15uGhlpe6jVHUtrtpHp57bUlI0ve05Flv2o6DwP9lpsib2j8wgfrN6xfH8VgJk5OSne2yQL4kW2iCVNKuX7lVDlPGxbxuV1J0dXm6mjBqpiY"
    "GFnPxx93UCHXtNo6nNLk5pqONfskOErrhv7jtZepbAMYxWtU2waYl4aZjq5Re5ZOzd48A4oRZT+d2qClQ4wYtdh2fUHlCq1D5CRBzfSCD/aqHQ/3"
    "bxWSnLDTlbGSzn4IP85u9/fu8z2X3T+8bBnTnJytk5d4wgxj2ucr7PE7zChmGcmgMIhjutyk7EUmm3xNzrQHJ9h3g7LjTOSzCSlbyHJlEqsVRVnl"
    "TahUENnJ9CwqFMYub6S394xiDqPyXCC5z3M5zQlJ7MBhmwlZorrkcGqa8ulYrK3DQXLXs5vQx5s22hZ1x/aIJSQtooQQvGOpKWfrHH3Fi5gKLl16"
    "iJAnrzYtB/VL5oc+/9xXcXoflXWvae9ZncDNFUamRgq99jCKSnBUPP062pB1HdW1a40lYU0Hy15O0dMIqezLJGZ7aA91Z6K39hNSNZsZZOknUkWe"
    "jmLtOwlb9bX4cxVjLhzwS2FNHbe20dKOr47cJ49Aco4dvfG5JMNl7CqanKcshFP/IKIeE44BXjV+dyQh1W+qZgi9c9d2E012wzgIRIgbXVqar6Zj"
    "QtIZ7x/9D/3f8dHR8j0iuqGqKMnh2rtbvVljMplPDVly4UJIyFT3xj1AhubXO5SDJhiz5RH1LOAHI/T83pv1EaYUY/aCYTQzzZidIavqbfxyYxZH"
    "6o/qLCdGrG0ecar7cYAsN2Q/kCQ7A1bfCWy8wp4SH8GAya5Lb/cl24NLSgvDS8AgRhaMjxISEpBUF8dt8+lgWlBtWMLnp2SZpdfuY8LftzpGNjXA"
    "PJ6NSTMbSOfbANvbQJ585ttAur+NREVz0bZKbv2/rNR58dh5+Lfm2qCz9krksChZ6+EmoRIVvS1N0OZ1DYbJDqYOtXu168Tbrak3ewRiNeuAU36l"
    "PDfuhSytI3Af5M2HJVUwWz2D+1L/4NIKc8fL1fvVqaZTuzsZ4FI25KnRe2Jl3hC3KNnxELNVcdro1FmycXpRdkrU2xoLlFE86Al49ezJdIBsd+M9"
    "XhP7Qx7P/OqUKq7hJbsH33Fv9gqY2Og952jDqIi1YwuDXwthlUEYez0sMvTpALoZsuJxBs6AisHjOtvLKg7AIBjyIXXhfmlZ69KBEWu2iv7+qOZH"
    "+3tGeQq2SQAJDvXpDJm85wDyzp/Z/PkX1OwjemGOMGBJoOI+3nYwtsv1wRd9KAE/NHY4a1xR/cc+FktOCgpgssKr3jXfjJnN/vNfu9b9r8yW7Fuk"
    "5M45QNIlh7JvTdjw9VwKLTk3vm++4TlftfF6bZ1lk/dgIM3s7e0Dvvyp/WGpcrWR/dxtZkio0lsyf0Td74MNb9vj2hifOGPixP5GgXv7+wqIO11Z"
    "oi1r/DfzEOMthV4s09rmuRCcxlVzC0Zzd2Eto/EdbsKuJZnfffocB04oRvzckQNdf0MMfoED7WYA/ptbaBVWDWaCV9aeQUxg1cRldy5tt+rTjCCD"
    "X6rcpJfHakjbt+4ojT1Bk6H9ceU+/D6+uWbo/Jglk7INjGHwJQW3N663axoVzy6duq8pLGSefBsW/ITQBr6rJd9cpr5cSfAsrXvsEEKKrkxy6cjK"
    "bzvuYB+Ha7Embew4znmGL/AI96SDRMZyq3UZs95mT8Vmgn0gljACZI7xD6fLpw5xgJbllcsHUdbjWYax5F9OWyOZpDPDPUsOFRQURrg0a+po/0Xi"
    "FBQnxbGAFwVUQhkpsmQQx3I7QmkCL7Y/EpQVynMovaQ4J55+cVKQFyddqBTnlxXKSukRJ/k5CUESi/lJfrI2TCYoF7MkrjZ+kiYKXVtbv6wsTTJ9"
    "IwXRRtHmmCVlhdKGZNbcizZ9aJBHo3cD0jJ5aFch/MwmbWMRrjuw8wsDXDqEncyDWtHePDUQx3H0WAfhPDMjriKF91zWOISNHLfRbiuCEtlcsHWr"
    "mlmfk7A/7WmLqEKSqth3AdOdBbeTALpE/MNou8B6PuSsVR68O+juiYlGbCRAgNA2DIp3m798t3i3UZafAwhCrGyQ08ZRKbMRTwpuubhQbhz1RslG"
    "OCG4ZcP+rMLLL1hpm9njk2La1gXaXbw+Or0jo1JDL6OjKPt2oWfTjM2WF49V844sDtClbuN4caMrt7XgpHIu/5VntVucv2TDNfYrefEQwTzvDFf9"
    "VaX8HaLff+WiN0XZeBnci8X23DQXfB+RSsaDSUL1ZMEsfbL1exXaUz69yHih/9fyFBOjYUNJD8Fanlt6IoPVHNew0bJhUg0bU8xNZ/rLLq0Zlqsc"
    "HDH95k4rbR3mVcyxcX8/+QZz/plXgVi89u99rG+9lMl5pqRZYMWZwFfYzId8wcuw38Or5jy2H5bzkKd4iKvjPLKZy07ncg8Zt8zfwE22gczhsiTC"
    "W40E++zac61aj2QAUU4uOW7Zp3sYqGHyRuOkDHHfHnJLwz4RhIlVyQMFZ7Jcw0YI9pUHbATzy0TtfnR9sus5030jBJMYXGGmrcMHdM0amUn8GQtn"
    "2dOsrDxSupjVs/1OEfJwT6+mteC/QBb7f494hzVY5oWK8iJfrTob63g+K6sE8E8lZmls9g1LVy66OLgMyQAwXkN+o6D8U3lLOxggxWiWfEcHkKY/"
    "JBUGYGy3nwW4oGzKtZxWXPOtTibFR+sP6fgD3OAc1xlTCU/ncqpO7ZSPOegLCZHz9JzZGYR57AW3xceAP7ADO9ZHAT7jLNM9AJI5enTfB4m8EyWH"
    "AHg16xUOwRz1hU2QykPCUBjXNCIakGbOzs51C49BHMdm8unIGEJI3QPbtRHBNj5r6fWrqy4TUqHOLJFIRDrRRphFpD1qdqc8bnSn54Wl5SRVEzkd"
    "oexIjK0gaV3YWi4tJZkch2ZMFUkZybEwdSSDk2q0SO5zyhqjI4SzODrdIPmT2EHhVlkkg+cgeJLqAbz27112kn9zOto0ddC/SiycnKZ6B8ji76QO"
    "Ax41OPn0s8p//+lqbI1cUp17orNj3aazSQzZwivZlpC+z8Leb4AtJBl2wuhJVNQzr/vQXAIlJUh0MQvqL1uOWhiRoBwShOI729423KJuVaCveCah"
    "3odKbO6RjYvbODh0zCXasMYoH31IOIE4cFu9IRYj8dlC8mzM/o3GHeK1vJLbmXW9fe/eHd8ndzWn+l1Dzp5NR9zwkxSpaVT5yYeKf+UgkulqFFiO"
    "+ze1FtwKsECzLbCFpNMJvlsoKdOu5a/fxn9Ztg/DokUMF30f5oynusxn6R9EdSEYwgyOynqScOYDnM2O044dzm6q4/J+Vhizsf5B8Mo3eInFZiDx"
    "t56B+xlo8BN816LzfQxgOk7nBNNPCwnLvFmP0aZTsIh5bnAvHjuPOIY9Dmi1i9Y0Zztxy0rPLWrUI6FnSIT087JlTNv1n/pt6KLZDJaNePXUqVOl"
    "55gsqY0gtM1+7NuaweJps8tP3IQyWOEg+8vyxvc0VnmKpM4WOOx6O8YZV5ciObsPGNUzeTsDsfgYKwTR5QvkPZXUJ1MpaxgDuVE1qk+y2R3EcM8F"
    "TDZdvGxtKhxmMZc0lPd9nmKeVst+pbhSeGkDIOOp62WIj8LpFBHNsItefqBUoOxdVu1c8yg6/Vbj6PlLyvyYHlTv3i8KS/CaljgcrEAo7LIEtabo"
    "wEjlhI/rzUJNFHdUGcCu3TfbbK1+oEkmYXxrYfDWYwWMiRIhhM5ZwwDCWJ4cXHRzz4FsxnsKTE8B5BdANjNYa0tTYh7n7QYTEKUENuqTA3n5RS+z"
    "kKLGZtjDYooam+E6I7S9H2WPczNovRy6dkjyE1Bf4QltssNQRY3LXpjOOFaSAI/eeWdhBZ5kuszKvkUwK8jeZxPCpZudm2z/v1Be330TcdF7uxnP"
    "HL6XDxh1k/bDo5op2UMH0UNMrU4Dqp+Kkd81cMZGOVya2VpjGMBOeaa7C5ogRgBW/kxHkcXYclQf9LTLV7Ynu10GOKY+rNMGoGObz2NLEDQvFRPs"
    "8pSulMU43kqr/RCTN/dsdx64L+0YJLEtN1mGI7TmtmgDrKF0cxtgrhLyy7sH/bnMF6J478wRbH6FUO4ZQJtd3Jft/M3Ffk42Ml7eKovHH8rcxDrV"
    "1OoW5O8ZeQTuMoLpsSCfZnN+WMp4DjpSObHt/DCXsdcQhV4WvbZE32I88yPkwyU6HiYz1bxTTju+jnP7+k9G/nlpVwTue2O8JeSy8RjFm5V7hOdP"
    "5sUKMmExL8e9cJCHhpWX8kKgnR+V8857N98Nx/hD7yJvr6pfzpoOjaHXd9peTQ6z0aySqx8EICuCaOZfucFOeBVZ+2SzldlzeR5rhBUeM6ElpjCY"
    "yd3b8iMVv7OCT1NRjkdOE3WMk9JnEqlL0a4AWTt9csjXJha/YtjYQ4mrMDyD3GO9d8S1IjH7aYm0gNkmM2OOjM2K4p0gfG5HFTfQNRjXcm/Cg2ze"
    "e/2E16q5byOxuJbOncbnoCu3tMQEEy7Ln/tXdaz/ADzKXYA="
)


@functools.lru_cache(maxsize=1)
def reference_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 30 reference digits, uint8 (30, 28, 28) white on black (read-only), and their labels (three of each, 0 to 9);
    decoded once per process (a model load may ask up to three times)."""
    raw = zlib.decompress(base64.b64decode("".join(_REFERENCE)))
    return np.frombuffer(raw, np.uint8).reshape(len(REFERENCE_INDICES), 28, 28), REFERENCE_LABELS


@dataclasses.dataclass(frozen=True)
class ScalingVerdict:
    """What the reference digits say about a scaling.

    Attributes:
      status: ``"ok"``; ``"mismatch"`` (another named scaling answers clearly more of them right: ``better``);
        ``"poor"`` (the scaling in use answers fewer than half right and none is clearly better).
      right: reference digits answered right, per scaling label (the one in use first).
      total: how many reference digits there are.
      better: the named scalings that answer clearly more right (best first), for ``"mismatch"``.
    """

    status: str
    right: dict
    total: int
    better: tuple = ()

    def counts(self) -> str:
        """``unit 3, raw 3, mnist 30, symmetric 12`` (of 30)."""
        return ", ".join(f"{name} {n}" for name, n in self.right.items())


def judge_scaling(right: dict, used: str, total: int) -> ScalingVerdict:
    """Compare the reference digits answered right under each scaling with the one in use.

    A named scaling is clearly better when it answers at least 80% of them right and at least an eighth of them
    more than the one in use (30 digits: 24 right, 4 more; a small CNN trained on [-1, 1] and fed PyTorch's MNIST
    scaling answers 25 of 30 instead of 30, and 82% of MNIST instead of 94%: benchmarks/RESULTS.md, "Runtime",
    nineteenth session); the one in use is poor under half right.

    Args:
      right: scaling name -> reference digits answered right (the one in use included).
      used: the name of the scaling in use.
      total: how many reference digits.
    """
    mine = right[used]
    better = sorted((n for n, k in right.items() if n != used and k >= 0.8 * total and k - mine >= total / 8),
                    key=lambda n: -right[n])
    ordered = {used: mine, **{n: k for n, k in right.items() if n != used}}
    if better:
        return ScalingVerdict("mismatch", ordered, total, tuple(better))
    if mine < total / 2:
        return ScalingVerdict("poor", ordered, total)
    return ScalingVerdict("ok", ordered, total)
