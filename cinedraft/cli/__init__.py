"""The ``cinedraft`` command line (Typer). Commands only build requests and print results."""
