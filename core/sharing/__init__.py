"""A trained generator put to use: generator files and sample images, latent paths for the
explorer, ONNX, timelapses, TensorBoard events."""
