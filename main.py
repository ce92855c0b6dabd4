"""GAN Studio: `python main.py` opens the app; `python main.py train|resume|sample ...` runs headless."""

import sys


def main() -> int:
    if len(sys.argv) > 1:
        from core import stop_signals

        stop_signals.hold()  # before torch loads: a stop signal now ends the command in one line, not rc -15
        from core.cli import main as cli_main
        return cli_main(sys.argv[1:])
    from studio.app import run_app
    return run_app()


if __name__ == "__main__":
    sys.exit(main())
