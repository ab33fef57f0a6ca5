"""Training stage: architectures registry, `TrainConfig`, and `train(config) -> TrainResult`."""

from edgedigits.train.architectures import count_macs, create_model, get_architecture, list_architectures
from edgedigits.train.config import TrainConfig
from edgedigits.train.trainer import TrainResult, train

__all__ = ["TrainConfig", "TrainResult", "train", "create_model", "count_macs", "get_architecture", "list_architectures"]
