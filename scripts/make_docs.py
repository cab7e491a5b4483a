"""Write the reference pages from the code: docs/cli.md, docs/settings.md, docs/families.md.

python scripts/make_docs.py
"""

from pathlib import Path

from cinedraft.cli.reference import cli_markdown, families_markdown, settings_markdown

DOCS = Path(__file__).resolve().parents[1] / "docs"

if __name__ == "__main__":
    DOCS.mkdir(exist_ok=True)
    pages = (
        ("cli.md", cli_markdown()),
        ("settings.md", settings_markdown()),
        ("families.md", families_markdown()),
    )
    for name, text in pages:
        (DOCS / name).write_text(text)
        print(f"wrote {DOCS / name}")
