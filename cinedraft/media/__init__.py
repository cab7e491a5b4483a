"""Media on disk: safe file reading and writing, embedded metadata, the H.264 codec helpers
and the prober that opens untrusted media in a worker process.

The lowest layer above the base modules: ``quality``, ``render``, ``library``, ``editor`` and
``engine`` import it; it imports none of them (see ``docs/architecture.md``).
"""
