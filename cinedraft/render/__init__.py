"""The rendering pipeline after sampling: upscale, refine, cleanup, encode."""
