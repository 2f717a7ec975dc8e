"""The dotenv reader behind Secret.from_dotenv and Secret.from_name."""

from pathlib import Path

import pytest

from nixbuild.api.dotenv import find_dotenv, parse_dotenv


def test_dotenv_syntax():
    text = (
        "# a comment\n"
        "\n"
        "PLAIN=value\n"
        "export EXPORTED = spaced value  # trailing comment\n"
        "HASH=a#b\n"
        "SINGLE='literal ${PLAIN} \\n it\\'s'\n"
        'DOUBLE="line1\\nline2 \\"quoted\\""\n'
        'MULTI="first\n'
        'second"\n'
        "NOVALUE\n"
        "EMPTY=\n"
        "this is not an assignment\n"
        'BROKEN="unterminated\n'
    )
    assert parse_dotenv(text, environ={}) == {
        "PLAIN": "value",
        "EXPORTED": "spaced value",
        "HASH": "a#b",
        "SINGLE": "literal ${PLAIN} \\n it's",
        "DOUBLE": 'line1\nline2 "quoted"',
        "MULTI": "first\nsecond",
        "NOVALUE": None,
        "EMPTY": "",
    }


def test_expansion_uses_earlier_keys_then_the_environment():
    text = "HOST=db\nURL=${HOST}:${PORT}/${MISSING:-app}\nQUOTED=\"${HOST}\"\nRAW='${HOST}'\n"
    assert parse_dotenv(text, environ={"PORT": "5432", "HOST": "ignored"}) == {
        "HOST": "db",
        "URL": "db:5432/app",
        "QUOTED": "db",
        "RAW": "${HOST}",
    }


def test_windows_line_endings():
    assert parse_dotenv("A=1\r\nB=2\r\n", environ={}) == {"A": "1", "B": "2"}


def test_find_dotenv_walks_up(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / ".env").write_text("X=1")
    assert find_dotenv(tmp_path / "a" / "b", ".env") == tmp_path / ".env"
    assert find_dotenv(tmp_path / "a" / "b", ".env.none-here") is None
    with pytest.raises(FileNotFoundError):
        find_dotenv(tmp_path / "missing", ".env")


def test_find_dotenv_starts_from_a_files_folder(tmp_path):
    (tmp_path / "app.py").write_text("")
    (tmp_path / ".env").write_text("X=1")
    assert find_dotenv(Path(tmp_path / "app.py"), ".env") == tmp_path / ".env"
