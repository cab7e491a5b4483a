"""The engine: loads diffusers pipelines and runs requests on them."""
