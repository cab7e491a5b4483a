"""The rendering pipeline after sampling: upscale, refine, cleanup, delivery, video finishing."""
