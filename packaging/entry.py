"""Entry point of the frozen bundle (PyInstaller): the same CLI as `gguf-studio`, child processes included."""

import multiprocessing

if __name__ == "__main__":
    multiprocessing.freeze_support()  # engine and job processes start through spawn in the bundle too
    from app.cli import main

    raise SystemExit(main())
