"""Beyond one machine (no Qt): remote OpenAI-compatible endpoints and llama.cpp RPC workers."""
