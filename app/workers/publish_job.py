"""Entry point of a publish job process (app.share.job)."""

from __future__ import annotations

from app.process.channel import Channel
from app.share.job import serve
from app.share.publish import PublishRequest


def main(channel: Channel, request: PublishRequest) -> None:
    serve(channel, request)
