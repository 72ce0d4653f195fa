"""A local fake Hugging Face Hub for tests: the real huggingface_hub client runs against it unmodified.

Start it with a fixture (tests/fakehub/fixtures.py; the root conftest registers them for every test):

    def test_x(fake_hub):            # default catalogue; HF_ENDPOINT=fake_hub.url (monkeypatched)
        HfApi(endpoint=fake_hub.url).model_info(LADDER_REPO, files_metadata=True)

    fake_hub_empty                   # no repositories
    fake_hub_gemma                   # default catalogue + GEMMA_REPO serving the real Gemma 3 270M file
    hf_token_in_tmp                  # autouse: huggingface_hub's token files live under tmp_path

Or by hand: `with FakeHub() as hub: build_default_catalogue(hub) ...` (set HF_ENDPOINT yourself; `hub.start(port=N)`
picks the Hub's port), or from a shell: `python -m tests.fakehub [--port N] [--latency S] [--gemma]`.

Routes (as the real Hub, see huggingface_hub's hf_api.py / file_download.py / utils/_http.py):
    GET  /api/models                 search=, author=, filter= (tags, e.g. gguf), gated=, sort= (downloads, likes,
                                     trendingScore, lastModified, createdAt), direction= (-1 default, 1 asc),
                                     limit= (page size, max 1000), expand= / expand[]=, full=, cardData=;
                                     pages through `Link: <...&cursor=...>; rel="next"`
    GET  /api/models/{repo}[/revision/{rev}]   blobs=true adds size, blobId, lfs{sha256,size,pointerSize};
                                     fields: id, author, sha, lastModified, createdAt, gated (False/"auto"/"manual"),
                                     downloads, likes, tags, pipeline_tag, cardData, gguf{total, architecture,
                                     context_length, ...}, siblings, usedStorage; expand= limits the fields
    GET  /api/models/{repo}/tree/{rev}[/{path}]   recursive=, expand= (lastCommit); Link pagination
    POST /api/models/{repo}/paths-info/{rev}      form: paths=..., expand=
    GET  /api/whoami-v2              Bearer token registered with hub.add_token(); else 401
    HEAD|GET /{repo}/resolve/{rev}/{file}
        non-LFS: 200/206 body, ETag (git blob sha1), X-Repo-Commit, Accept-Ranges, Range -> 206 + Content-Range,
                 unsatisfiable -> 416 with Content-Range: bytes */size
        LFS (*.gguf, >= 10 MiB): 302 to hub.cdn_url + /cdn-lfs/{repo}/{commit}/{file} (another port = another
                 origin, so huggingface_hub stops at the 302 like with the real CDN) carrying X-Repo-Commit,
                 X-Linked-Size, X-Linked-Etag ("sha256"); the CDN serves the body with Range and ETag "sha256"
    Errors use the Hub's headers X-Error-Code / X-Error-Message (+ JSON {"error": ...}):
        unknown repo -> 401 (no token) / 404 (token), RepoNotFound; bad revision -> 404 RevisionNotFound;
        missing file -> 404 EntryNotFound; gated file without token -> 401 GatedRepo, with a token of a user
        not granted -> 403 GatedRepo (README.md/.gitattributes stay readable); unknown token -> 401
        "Invalid credentials in Authorization header".

Building repositories:
    repo = hub.add_repo(FakeRepo("org/Name-GGUF", downloads=10, likes=2, gated=False | "auto" | "manual",
                                 tags=[...], card_data={...}, gguf={"total": n, "architecture": "llama", ...}))
    repo.add_file("x.gguf", b"..." | Path(...) | VirtualContent(header, size))  # paths are streamed, not loaded
    repo.set_card("# markdown")      # README.md
    hub.add_token("hf_x", user="alice"); hub.grant("org/Name-GGUF", "alice")
    Generators: ggufgen.llama_gguf(LlamaSpec(...), LlamaFileType.MOSTLY_Q4_K_M) -> header + full size;
    ggufgen.tiny_gguf_bytes() -> a complete small F32 model; catalogue.split_shards(...) -> -0000k-of-0000n.

Default catalogue (catalogue.py constants): LADDER_REPO (Q2_K..Q8_0 + mmproj + imatrix.gguf, virtual sizes
125-330 MB), SPLIT_REPO (Q4_K_M in 3 shards + Q2_K + imatrix.dat), GATED_REPO ("manual"), TINY_REPO (a complete
435 KB model + config.json), NON_GGUF_REPO (safetensors, no gguf tag), N_FILLER filler repos by FILLER_AUTHOR
(for paging), GEMMA_REPO only with fake_hub_gemma. sha256 digests are computed lazily, cached in build/.

Fault injection (thread-safe; `match` = substring of the unquoted request path, None = any request):
    hub.latency = 0.3                # seconds added to every request (hub.latency_match narrows it)
    hub.fail_next(n, status=500, match=None, retry_after=None, error_code=None, message=None)
    hub.rate_limit(n, retry_after=1, match=None)          # 429 + Retry-After
    hub.drop_after(n_bytes, times=1, match=None)          # file bodies: close the connection after n bytes
    hub.stall(at_byte, seconds, times=1, match=None)      # file bodies: pause mid-stream
    hub.truncate(n_bytes, times=1, match=None)            # file bodies: a complete but short response
    hub.corrupt(times=1, match=None)                      # file bodies: flip one byte (sha256 mismatch)
    Ranged (one segment of a parallel download): the fault hits the response whose byte range holds `offset`:
    hub.drop_at(offset) / hub.stall_at(offset, seconds) / hub.truncate_at(offset)   # at that file byte
    hub.fail_covering(offset, n=1, status=500, match=None, retry_after=None)        # 500, 429 + Retry-After...
    hub.throttle(bytes_per_second, match=None)           # file bodies: this fast at most, per connection (0: off)
    hub.throttle(bytes_per_second, shared=True)           # ...or for all connections together (a limited link)
    hub.ranges_supported = False                          # file bodies ignore Range (200 with the whole file)
    hub.clear_faults()
    Body faults apply to GET bodies of files (non-LFS resolve, or the CDN); status faults to any request.
Request log: hub.requests -> [RequestRecord(method, path, query, range, authorized, server "hub"|"cdn", status)],
    hub.requests_for("Q4_K_M", method="GET"), hub.clear_requests().

Uploads (tests/fakehub/upload.py): repo creation, validate-yaml, preupload, LFS batch (basic + multipart, nothing
to send for objects already held), verify, commit, for the real client with HF_HUB_DISABLE_XET; tokens need
role="write" (hub.add_token(..., role="write")); `uploads(hub)` holds the upload log, commits and the stored objects.
"""

from tests.fakehub.catalogue import (
    FILLER_AUTHOR,
    GATED_REPO,
    GEMMA_REPO,
    LADDER_REPO,
    LADDER_TYPES,
    N_FILLER,
    NON_GGUF_REPO,
    SPLIT_REPO,
    TINY_REPO,
    build_default_catalogue,
)
from tests.fakehub.content import BytesContent, PathContent, VirtualContent
from tests.fakehub.repo import FakeFile, FakeRepo
from tests.fakehub.server import FakeHub, RequestRecord

__all__ = [
    "FILLER_AUTHOR",
    "GATED_REPO",
    "GEMMA_REPO",
    "LADDER_REPO",
    "LADDER_TYPES",
    "NON_GGUF_REPO",
    "N_FILLER",
    "SPLIT_REPO",
    "TINY_REPO",
    "BytesContent",
    "FakeFile",
    "FakeHub",
    "FakeRepo",
    "PathContent",
    "RequestRecord",
    "VirtualContent",
    "build_default_catalogue",
]
