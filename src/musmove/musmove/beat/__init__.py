"""Beats from audio, causally: streaming features, the ONNX or DSP activation, and the beat tracker."""
