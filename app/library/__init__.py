"""The local model library: folders scanned into entries, headers cached in SQLite, import and delete.

scan.py     walk the library folders, group split sets, skip `*.part`, summaries through the cache;
            a model's quality score comes from its sidecar (app.quantize.quality_file)
index.py    the SQLite header cache keyed by path, size and mtime (a warm scan reads no header),
            with the quality score keyed by the sidecar's own size, mtime and inode
summary.py  a model's headers → the facts the library shows
manage.py   delete, import files or folders (copy, move or link); a quality sidecar goes with its model
hfcache.py  GGUF files already in the Hugging Face cache, imported into the LM Studio layout
"""
