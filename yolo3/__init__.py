"""yolo3: a YOLOv3-family object detector on PyTorch."""

__version__ = "0.1.0"
