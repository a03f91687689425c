"""Val-split mAP of one BCCD checkpoint under several test-time-augmentation views.

Chooses the views for the BCCD rows on the val split only (the test split is scored
once, by run_final.sh with TTA_SCALES). Each row is `yolo3 val --tta-scales …` on the
OpenVINO fp32 backend; accuracy only, so other work on the cores does not matter.
Usage: .venv/bin/python benchmarks/bccd/tta_sweep.py runs/bccd/weights/best.safetensors
"""

from __future__ import annotations

import argparse
import tempfile

from yolo3.eval.val import val
from yolo3.inference.tta import TTAConfig

VARIANTS = {
    "none": None,
    "1,0.83,0.67 (default)": TTAConfig(),
    "1 (flip only)": TTAConfig(scales=(1.0,)),
    "1,0.83,0.67 no merge": TTAConfig(merge=False),
    "1,1.17": TTAConfig(scales=(1.0, 1.17)),
    "1,1.17,0.83": TTAConfig(scales=(1.0, 1.17, 0.83)),
    "1,1.17,0.83 no flip": TTAConfig(scales=(1.0, 1.17, 0.83), flip=False),
    "1,1.33,0.83": TTAConfig(scales=(1.0, 1.33, 0.83)),
    "1,1.17,0.83,0.67": TTAConfig(scales=(1.0, 1.17, 0.83, 0.67)),
    "1,1.17,0.83 merge 0.5": TTAConfig(scales=(1.0, 1.17, 0.83), merge_iou=0.5),
    "1,1.17,0.83 merge 0.7": TTAConfig(scales=(1.0, 1.17, 0.83), merge_iou=0.7),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("weights")
    ap.add_argument("--data", default="../shared/datasets/bccd")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    print(f"{'views':24s} mAP@0.5:0.95  mAP@0.5")
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, tta) in enumerate(VARIANTS.items()):
            result, _ = val(args.weights, args.data, "val", out_dir=f"{tmp}/{i}", plots=False, backend="openvino",
                            precision="fp32", threads=args.threads, tta=tta)
            print(f"{name:24s} {result.metrics['mAP@0.5:0.95']:.4f}        {result.metrics['mAP@0.5']:.4f}", flush=True)


if __name__ == "__main__":
    main()
