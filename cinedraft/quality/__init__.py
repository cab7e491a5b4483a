"""Image and video quality measurements."""
