"""Model downloads from the Hugging Face Hub that arrive whole, survive crashes and are always verified.

layout.py    where files land (`<models>/<publisher>/<repo>/<file>`) and which Hub names are refused
remote.py    the Hub's URL, size, checksum and commit of a file (huggingface_hub)
transfer.py  one Range GET appended to `<file>.part`, hashed as it arrives, stall detection
job.py       one item end to end: resolve, check space, retry with backoff, verify, fsync, rename
manager.py   the persistent queue: N transfers at a time, pause/resume/cancel/retry, events
store.py     the queue on disk (JSON in the data dir, written atomically off the caller's thread)
"""
