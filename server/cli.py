"""`sketchserve` command line: one subcommand per job, each owned by the module that does the work.

The dispatcher imports only the chosen command's module, so `sketchserve --help` is instant and a
client command never imports torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module exposing add_arguments(parser) and run(args) -> int, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("server.cli_serve", "serve a sketched base and its task LUTs over HTTP"),
    "sketch": ("sketch.cli_sketch", "sketch a Hugging Face / GGUF model into shared codes + a base LUT"),
    "eval-ppl": ("sketch.cli_sketch", "perplexity of an unsketched or sketched model on a text file"),
    "finetune": ("sketch.cli_finetune", "fine-tune a task LUT on instruction data"),
    "eval": ("sketch.cli_finetune", "task loss and accuracy of a base (+ task LUT) on instruction data"),
    "push-lut": ("server.cli_client", "upload a task LUT file to a running server"),
    "pull-lut": ("server.cli_client", "download a stored task LUT file from a running server"),
    "generate": ("server.cli_client", "generate text from a running server"),
    "tasks": ("server.cli_client", "list a running server's tasks: version, size, resident or not"),
    "delete-task": ("server.cli_client", "delete a task (every stored version) from a running server"),
}


def _top_help() -> str:
    lines = ["usage: sketchserve COMMAND [options]", "", "commands:"]
    lines += [f"  {name:<10} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "`sketchserve COMMAND --help` shows a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_top_help())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"sketchserve: unknown command {name!r}\n\n{_top_help()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    parser = argparse.ArgumentParser(prog=f"sketchserve {name}", description=COMMANDS[name][1])
    module.add_arguments(name, parser)
    args = parser.parse_args(rest)
    return int(module.run(name, args) or 0)


if __name__ == "__main__":
    sys.exit(main())
