"""Export: the model plus decode as one graph (ONNX, TorchScript, OpenVINO fp32/bf16/int8) with a dynamic batch."""

from yolo3.export.from_checkpoint import export_checkpoint
from yolo3.inference.graph import DecodedModel
from yolo3.export.onnx import export_onnx
from yolo3.export.openvino import export_openvino
from yolo3.export.quantize import QuantizeConfig, QuantizeReport
from yolo3.io.checkpoint import read_onnx_metadata
from yolo3.export.torchscript import export_torchscript

__all__ = [
    "DecodedModel", "QuantizeConfig", "QuantizeReport", "export_checkpoint", "export_onnx", "export_openvino",
    "export_torchscript", "read_onnx_metadata",
]
