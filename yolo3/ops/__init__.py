"""Pure tensor math: box conversions and IoUs, decode of raw outputs, NMS; and the malloc
setting big CPU tensors run fastest with (allocator.py)."""
