"""Shared CLI behaviour: the platform's errors end a command with a message and an exit code."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from energy.cli.main import app
from energy.cli.params import EXIT_BAD_INPUT, EXIT_FAILURE, exit_code_for
from energy.config import SiteConfigError
from energy.store import StoreError
from optimizer.inputs import InputError


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (SiteConfigError([]), EXIT_BAD_INPUT),
        (InputError(["INPUTS.csv, line 3: expected a number"]), EXIT_BAD_INPUT),
        (StoreError("store is at migration none"), EXIT_FAILURE),
        (FileNotFoundError(2, "No such file or directory"), EXIT_FAILURE),
        (ValueError("a bug in a library"), None),
        (KeyError("a bug"), None),
    ],
)
def test_exit_codes(error: Exception, code: int | None) -> None:
    assert exit_code_for(error) == code


def test_an_unmigrated_store_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    result = CliRunner().invoke(app, ["forecast", "show", "--url", url])
    assert result.exit_code == EXIT_FAILURE
    assert "kv db upgrade" in result.output
    assert "Traceback" not in result.output


def test_an_invalid_site_exits_2_for_every_command(tmp_path: Path) -> None:
    bad = tmp_path / "site.yaml"
    bad.write_text("site: [\n")
    for command in (["db", "status"], ["audit", "verify"], ["prices", "show"], ["serve"]):
        result = CliRunner().invoke(app, [*command, "-c", str(bad)])
        assert result.exit_code == EXIT_BAD_INPUT, (command, result.output)
        assert "expected valid YAML" in result.output


def test_the_root_group_turns_an_escaped_platform_error_into_an_exit_code() -> None:
    import typer

    from energy.cli.params import PlatformErrorGroup

    demo = typer.Typer(cls=PlatformErrorGroup)

    @demo.command("fetch")
    def fetch() -> None:
        raise StoreError("the store does not answer")

    @demo.command("parse")
    def parse() -> None:
        raise InputError(["INPUTS.csv, line 3: expected a number"])

    @demo.command("bug")
    def bug() -> None:
        raise ZeroDivisionError("a bug")

    failed = CliRunner().invoke(demo, ["fetch"])
    assert failed.exit_code == EXIT_FAILURE
    assert "fetch: the store does not answer" in failed.output
    assert failed.exception is None or isinstance(failed.exception, SystemExit)
    bad = CliRunner().invoke(demo, ["parse"])
    assert bad.exit_code == EXIT_BAD_INPUT
    assert "line 3: expected a number" in bad.output
    crashed = CliRunner().invoke(demo, ["bug"])
    assert isinstance(crashed.exception, ZeroDivisionError)  # bugs keep their traceback
