"""Shell completion scripts, generated from the parser so they never fall out of date."""

from __future__ import annotations

import argparse

from libstore.cli._urls import store_schemes

__all__ = ["completion_script"]

_BASH = r"""# bash completion for libstore; load with: source <(libstore completion bash)
_libstore() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
    local commands="__COMMANDS__"
    local takes_value=" __VALUED__ "
    local cmd="" i word
    for ((i = 1; i < COMP_CWORD; i++)); do
        word="${COMP_WORDS[i]}"
        if [[ "$takes_value" == *" $word "* ]]; then
            ((i++))
            continue
        fi
        if [[ "$word" != -* ]]; then
            cmd="$word"
            break
        fi
    done
    if [[ "$takes_value" == *" $prev "* ]]; then
        case "$prev" in
            --config|--local-root) COMPREPLY=($(compgen -f -- "$cur")) ;;
            *) COMPREPLY=() ;;
        esac
        return 0
    fi
    local opts
    case "$cmd" in
__CASES__
        *) opts="__GLOBAL__" ;;
    esac
    if [[ -z "$cmd" && "$cur" != -* ]]; then
        COMPREPLY=($(compgen -W "$commands" -- "$cur"))
    elif [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    elif [[ "$cmd" == completion ]]; then
        COMPREPLY=($(compgen -W "bash zsh" -- "$cur"))
    else
        COMPREPLY=($(compgen -W "__SCHEMES__" -- "$cur")
                   $(compgen -f -- "$cur"))
        compopt -o nospace 2>/dev/null
    fi
    return 0
}
complete -o default -F _libstore libstore
"""

_ZSH_PREFIX = """#compdef libstore
# zsh completion for libstore; load with: source <(libstore completion zsh)
autoload -U +X bashcompinit && bashcompinit
"""


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return sorted({o for action in parser._actions for o in action.option_strings})


def _valued(parser: argparse.ArgumentParser) -> set[str]:
    return {
        o
        for action in parser._actions
        if action.nargs != 0 and action.option_strings
        for o in action.option_strings
    }


def completion_script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script for ``shell`` (``"bash"`` or ``"zsh"``)."""
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    commands: dict[str, argparse.ArgumentParser] = dict(subparsers.choices)
    valued = _valued(parser)
    cases = []
    for name, sub in commands.items():
        valued |= _valued(sub)
        cases.append(f'        {name}) opts="{" ".join(_options(sub))}" ;;')
    script = (
        _BASH.replace("__COMMANDS__", " ".join(commands))
        .replace("__VALUED__", " ".join(sorted(valued)))
        .replace("__CASES__", "\n".join(cases))
        .replace("__GLOBAL__", " ".join(_options(parser)))
        .replace("__SCHEMES__", " ".join(f"{s}://" for s in (*store_schemes(), "file")))
    )
    return _ZSH_PREFIX + script if shell == "zsh" else script
