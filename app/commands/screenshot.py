"""`gguf-studio screenshot`: render a page of the real window offscreen into a PNG."""

from __future__ import annotations

import argparse
import os
import re
import time

from app.core.errors import AppError


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("screenshot", help="render a page of the window to a PNG (offscreen)")
    parser.add_argument("--page", required=True,
                        help="discover, downloads, library, quantize, chat, server or settings")
    parser.add_argument("--out", required=True, help="PNG file to write")
    parser.add_argument("--size", default="1280x800", help="window size WxH (default 1280x800)")
    parser.add_argument("--theme", choices=("system", "light", "dark"), help="theme for this shot")
    parser.add_argument("--wait", type=float, default=3.0, help="seconds to let the page load its data")
    parser.add_argument("--model", help="a model file to open the page with (library, quantize and chat)")
    parser.set_defaults(func=run)


def parse_size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d{2,5})x(\d{2,5})", text.strip())
    if not match:
        raise AppError(f"size {text!r} is not WxH", hint="for example 1280x800")
    return int(match.group(1)), int(match.group(2))


def run(args: argparse.Namespace) -> int:
    width, height = parse_size(args.size)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QCoreApplication, QEventLoop

    from app.core.settings import Settings
    from app.ui.application import create_application
    from app.ui.pages.registry import page_spec
    from app.ui.tasks import running_tasks
    from app.ui.theme import apply_theme

    try:
        page_spec(args.page)
    except KeyError as exc:
        raise AppError(str(exc.args[0])) from None
    qt_app = create_application()
    settings = Settings()
    from app.ui.main_window import MainWindow

    window = MainWindow(settings)
    apply_theme(qt_app, args.theme or settings.values.theme)
    window.resize(width, height)
    window.navigate(args.page)
    window.show()
    if args.model:
        window.navigate(args.page, model=args.model)
    window.hardware.start()
    # Let probes and page loads finish (bounded), so the picture shows the page as a user sees it.
    deadline = time.monotonic() + max(0.0, args.wait)
    while time.monotonic() < deadline:
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        if window.hardware.info is not None and running_tasks() == 0:
            break
        time.sleep(0.02)
    QCoreApplication.processEvents()
    image = window.grab()
    if image.isNull() or not image.save(args.out, "PNG"):
        raise AppError(f"could not write {args.out}")
    print(args.out)
    window.close_now()
    return 0
