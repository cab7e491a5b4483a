"""The reference pages say what the code says: a command, option or setting added without
running ``python scripts/make_docs.py`` fails here (Datasette's way of keeping docs true)."""

from pathlib import Path

from typer.main import get_command

from cinedraft.cli.main import app
from cinedraft.cli.reference import cli_markdown, families_markdown, settings_markdown
from cinedraft.config import Settings

DOCS = Path(__file__).parents[2] / "docs"


def test_the_cli_reference_is_current():
    assert (DOCS / "cli.md").read_text() == cli_markdown(), "run: python scripts/make_docs.py"


def test_the_settings_reference_is_current():
    assert (DOCS / "settings.md").read_text() == settings_markdown(), (
        "run: python scripts/make_docs.py"
    )


def test_the_families_table_is_current():
    assert (DOCS / "families.md").read_text() == families_markdown(), (
        "run: python scripts/make_docs.py"
    )


def test_every_command_option_and_setting_is_documented():
    text = (DOCS / "cli.md").read_text()

    def walk(command, path):
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, [*path, name])

    for path, command in walk(get_command(app), ["cinedraft"]):
        assert f"## `{' '.join(path)}`" in text
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--") and opt != "--help":
                    assert opt in text, (path, opt)
    settings = (DOCS / "settings.md").read_text()
    for name, field in Settings.model_fields.items():
        assert (
            f"CINEDRAFT_{name.upper()}" in settings and (field.description or "")[:30] in settings
        )


def test_every_command_is_summed_up_in_one_line():
    """The command lists of ``--help`` show a command's first paragraph with its line breaks
    kept (Typer's rich mode): a summary written over two lines broke mid-sentence there."""
    import inspect

    def walk(command, path):
        for name, sub in getattr(command, "commands", {}).items():
            yield [*path, name], sub
            yield from walk(sub, [*path, name])

    for path, command in walk(get_command(app), ["cinedraft"]):
        summary = inspect.cleandoc(command.help or "").split("\n\n")[0]
        assert summary and "\n" not in summary, (" ".join(path), summary)
