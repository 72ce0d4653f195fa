"""Model downloads from the Hugging Face Hub that arrive whole, survive crashes and are always verified.

layout.py       where files land (`<models>/<publisher>/<repo>/<file>`) and which Hub names are refused
remote.py       the Hub's URL, size, checksum and commit of a file (huggingface_hub)
transfer.py     one Range GET appended to `<file>.part`, hashed as it arrives, stall detection
retry.py        back-off, Retry-After and giving up after a streak of failed attempts
segments.py     a large file as pieces over several connections: planning, hand-out in order, work stealing
ranged.py       one ranged GET of one segment, written at its offsets in the preallocated `.part`
ranges.py       the record of done ranges beside a segmented part (`<file>.part.ranges`, atomic)
prefix_hash.py  the sha256 of a segmented part's contiguous prefix, computed while the segments arrive
segmented.py    one file over N connections: restore, preallocate, connections, monitor, verify
job.py          one item end to end: resolve, check space, segments or one stream, retry, verify, rename
manager.py      the persistent queue: N transfers at a time, pause/resume/cancel/retry, events
store.py        the queue on disk (JSON in the data dir, written atomically off the caller's thread)
"""
