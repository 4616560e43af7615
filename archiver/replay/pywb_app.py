"""pywb's replay app behind our Memento middleware, served by gevent. Runs in .venv-pywb.

    .venv-pywb/bin/python archiver/replay/pywb_app.py --root <data>/replay --host H --port P

It is a script, not part of the `archiver` package's import graph: pywb cannot live in
the app's virtualenv (docs/replay.md). It imports `memento.py` from its own folder.
"""
from gevent.monkey import patch_all; patch_all()  # noqa: E702,I001  (first, as pywb's own CLI does)

import argparse  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="archiver replay: pywb with Memento fixes")
    parser.add_argument("--root", required=True, help="folder holding config.yaml")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--collection", default="web")
    parser.add_argument("--app-url", default=None,
                        help="the app's public address: mementos link to their provenance there")
    args = parser.parse_args(argv)

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from memento import MementoMiddleware
    from pywb.apps.frontendapp import FrontEndApp
    from pywb.utils.geventserver import GeventServer, RequestURIWSGIHandler
    from pywb.warcserver.index.aggregator import DirectoryIndexSource
    from pywb.warcserver.warcserver import register_source

    # A folder of indexes is read by CacheDirectoryIndexSource by default: it lists the folder
    # again only when os.stat() of it compares unequal, and that comparison has one-second
    # resolution, so an index file added in the same second as a lookup stayed invisible.
    # The plain source lists the folder at every lookup (a few files: cheap).
    register_source(DirectoryIndexSource)

    logging.basicConfig(format="%(asctime)s: [%(levelname)s]: %(message)s", level=logging.INFO)
    os.chdir(args.root)            # pywb reads ./config.yaml and resolves templates from here
    app = MementoMiddleware(FrontEndApp(config_file=os.path.join(args.root, "config.yaml")),
                            collection=args.collection, app_url=args.app_url)
    logging.info("archiver replay (pywb) on http://%s:%s/%s/", args.host, args.port, args.collection)
    GeventServer(app, port=args.port, hostname=args.host, handler_class=RequestURIWSGIHandler,
                 direct=True)


if __name__ == "__main__":
    main()
