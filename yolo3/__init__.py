"""yolo3: a YOLOv3-family object detector on PyTorch.

Quick start (the `YOLO` facade; every method is also a `yolo3` command)::

    from yolo3 import YOLO
    model = YOLO("yolov3-tiny", width=0.5)          # or "best.safetensors", "model.onnx",
                                                    # YOLO("yolov3.cfg", weights="yolov3.weights")
    result = model.train(data="data.yaml", epochs=30, imgsz=320)
    print(result)                                   # run folder, best epoch and fitness
    metrics = model.val(data="data.yaml")           # evaluates the run's best.safetensors
    print(metrics.metrics["mAP@0.5:0.95"])
    dets = model.predict("street.jpg", conf=0.3)[0]
    dets.save("street_boxes.jpg")                   # annotated copy
    print(dets.to_dict()["boxes"])                  # (N, 4) xyxy pixels
    model.export(format="onnx")

`import yolo3` stays cheap: `YOLO` loads on first use, torch when a model is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["YOLO", "__version__"]

if TYPE_CHECKING:
    from yolo3.facade import YOLO


def __getattr__(name: str) -> Any:
    if name == "YOLO":
        from yolo3.facade import YOLO

        return YOLO
    raise AttributeError(f"module 'yolo3' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), "YOLO"])
