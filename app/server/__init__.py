"""The local OpenAI- and Anthropic-compatible HTTP API over the library (no Qt).

config.py         what `gguf-studio serve` was asked for (address, key, TTL, memory allowed, limits)
catalog.py        library entries as served models, each under a stable id (never a path)
schemas.py        request bodies parsed once into frozen values; malformed input is an ApiError (400)
errors.py         ApiError: an HTTP status with a message, written in each API's own error format
auth.py           the API key, compared in constant time
scheduler.py      which models are loaded: exact-byte admission, LRU unload, idle TTL, N generations per engine
pool_admission.py RPC worker devices in the memory budget, a model's need split as the engine splits it
keyfile.py        the Server page's API key, in its own user-only file
endpoint.py       what every endpoint does first: key check, body limit (413), lease the engine, pick the template
generation.py     one generation on an engine child, as async events; stops the engine when abandoned
replies.py        tools and grammar for the engine, and the reply taken apart (content, reasoning, tool calls)
openai_api.py     /v1/models, /v1/chat/completions, /v1/completions
embeddings.py     /v1/embeddings for embedding models (decided from the GGUF header)
anthropic_api.py  /v1/messages
sse.py            server-sent events framing
app.py            the ASGI application (routes, body limit, CORS)
runner.py         uvicorn around it, in the foreground or on a thread
"""
