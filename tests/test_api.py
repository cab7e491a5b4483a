from pathlib import Path

import cinedraft


def test_all_names_exist_and_are_documented():
    for name in cinedraft.__all__:
        obj = getattr(cinedraft, name)
        if callable(obj):
            assert obj.__doc__, f"{name} has no docstring"


def test_every_setting_is_described_and_in_the_settings_page():
    page = (Path(__file__).parents[1] / "docs" / "settings.md").read_text()
    for name, field in cinedraft.Settings.model_fields.items():
        assert field.description, f"setting {name} has no description"
        assert f"CINEDRAFT_{name.upper()}" in page, (
            f"CINEDRAFT_{name.upper()} not in docs/settings.md"
        )
