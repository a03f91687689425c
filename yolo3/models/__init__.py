"""Model family: `create_model(name, ...)`, `build_model(cfg)`, `list_models()`."""

from yolo3.models.registry import build_model, create_model, list_models, register_model
from yolo3.models.yolov3 import YOLOv3, YOLOv3Base, YOLOv3Tiny

__all__ = ["YOLOv3", "YOLOv3Base", "YOLOv3Tiny", "build_model", "create_model", "list_models", "register_model"]
