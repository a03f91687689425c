"""Pure tensor math: box conversions and IoUs, decode of raw outputs, NMS."""
