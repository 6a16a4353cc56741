import argparse
import logging

from bank_simulator.server import DEFAULT_EMBED_ORIGINS, serve


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bank_simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8200)
    parser.add_argument(
        "--ledger", default="var/bank_simulator.sqlite3", help="the bank's own SQLite ledger"
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    parser.add_argument(
        "--embed-origin",
        action="append",
        dest="embed_origins",
        help="an origin whose pages may frame the hosted card form (repeatable; default: "
        + ", ".join(DEFAULT_EMBED_ORIGINS)
        + ")",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s bank %(message)s")
    serve(
        args.host,
        args.port,
        args.ledger,
        verbose=args.verbose,
        embed_origins=args.embed_origins or DEFAULT_EMBED_ORIGINS,
    )


if __name__ == "__main__":
    main()
