"""Write the reference pages from the code: docs/cli.md and docs/settings.md.

python scripts/make_docs.py
"""

from pathlib import Path

from cinedraft.cli.reference import cli_markdown, settings_markdown

DOCS = Path(__file__).resolve().parents[1] / "docs"

if __name__ == "__main__":
    DOCS.mkdir(exist_ok=True)
    for name, text in (("cli.md", cli_markdown()), ("settings.md", settings_markdown())):
        (DOCS / name).write_text(text)
        print(f"wrote {DOCS / name}")
