"""The one child-process layer (no Qt): every engine and job runs in a child started here.

- `spawn.start_child` starts a child through multiprocessing's spawn (safe in the frozen bundle);
- `child.bootstrap` is the child's first code: ggml's backtrace off, native stdout/stderr into a pipe the
  app reads, Python logging relayed as `messages.LogLine`, then the entry's `main(channel, *args)`;
- `channel.Channel` carries typed messages (frozen dataclasses, AppErrors) both ways;
- `supervisor.Supervisor` reads the child's messages and native output (`native_output`) on threads, stops
  it (ask, terminate, kill) and turns its end into an `outcome.Outcome` with a sentence a user can act on;
- `native_log` routes llama.cpp's own log (its log callback) into logging or to a job's listener, and
  `llama_lib` loads llama.cpp's ctypes binding without the high-level half a child does not need.
"""
