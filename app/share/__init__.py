"""Share: GGUF split and merge in llama.cpp's format, model cards with measured evidence, Hub publishing.

No Qt here (see tests/unit/test_architecture.py); the Library's Publish dialog and the CLI verbs sit on top.
"""
