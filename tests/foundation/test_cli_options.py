"""Every command takes the shared definitions of --json, --out, --config, --set and --redis."""

from __future__ import annotations

from collections.abc import Iterator

import click

from perfcore.cli import cli
from perfcore.cli_options import config_option, json_option, out_option, set_option

NOT_YET_SHARED: set[tuple[str, str]] = set()
# calibrate's --out names the overlay FILE it writes, not a results directory.
DIFFERENT_MEANING = {("calibrate", "--out")}


def _commands(
    group: click.Group, ctx: click.Context, prefix: str = ""
) -> Iterator[tuple[str, click.Command]]:
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        path = f"{prefix}{name}"
        if isinstance(command, click.Group):
            yield from _commands(command, ctx, f"{path} ")
        else:
            yield path, command


def _shape(option: click.Option) -> tuple[object, ...]:
    return (
        option.name,
        tuple(option.opts),
        option.help,
        option.multiple,
        option.is_flag,
        type(option.type),
    )


def _reference(decorator: object) -> tuple[object, ...]:
    @decorator  # type: ignore[operator]
    def command(**_: object) -> None: ...

    [option] = click.command()(command).params
    assert isinstance(option, click.Option)
    return _shape(option)


def test_every_command_uses_the_shared_options() -> None:
    shared = {
        "--json": _reference(json_option),
        "--out": _reference(out_option),
        "--config": _reference(config_option),
        "--set": _reference(set_option),
    }
    seen: dict[str, int] = dict.fromkeys(shared, 0)
    ctx = click.Context(cli)
    for path, command in _commands(cli, ctx):
        for param in command.params:
            if not isinstance(param, click.Option):
                continue
            for name in set(param.opts) & set(shared):
                if (path, name) in DIFFERENT_MEANING:
                    continue
                if (path, name) in NOT_YET_SHARED:
                    assert _shape(param) != shared[name], f"{path} {name} is shared now: update"
                    continue
                assert _shape(param) == shared[name], f"{path} {name}"
                seen[name] += 1
    assert all(count >= 3 for count in seen.values()), seen


def test_redis_options_name_their_tier_and_default() -> None:
    ctx = click.Context(cli)
    helps = {
        path: param.help
        for path, command in _commands(cli, ctx)
        for param in command.params
        if isinstance(param, click.Option) and "--redis" in param.opts
    }
    assert helps["cache stats"] == helps["cache invalidate"] == helps["serve"]
    assert helps["queues status"] == helps["queues add"] == helps["worker"]
    assert "cache.redis_url" in str(helps["serve"]) and "queues.redis_url" in str(helps["worker"])
