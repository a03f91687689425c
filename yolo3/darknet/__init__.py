"""darknet interoperability (SPEC §8.6): `.cfg` parsing/writing, `.weights` I/O, conversion."""

from yolo3.darknet.cfg import DarknetCfg, DarknetCfgError, format_cfg, load_cfg, parse_cfg, save_cfg
from yolo3.darknet.convert import convert_darknet, darknet_cfg_for, export_darknet, load_darknet, save_darknet
from yolo3.darknet.finetune import load_for_finetuning
from yolo3.darknet.match import match_cfg
from yolo3.darknet.network import DarknetNetwork
from yolo3.darknet.weights import (
    DarknetWeightsError, WeightsHeader, count_floats, layers_in_file, load_partial_weights, load_weights, save_weights,
)

__all__ = [
    "DarknetCfg", "DarknetCfgError", "DarknetNetwork", "DarknetWeightsError", "WeightsHeader", "convert_darknet",
    "count_floats", "darknet_cfg_for", "export_darknet", "format_cfg", "layers_in_file", "load_cfg", "load_darknet",
    "load_for_finetuning", "load_partial_weights", "load_weights", "match_cfg", "parse_cfg", "save_cfg",
    "save_darknet", "save_weights",
]
