# The fake Hub's fixtures (fake_hub, fake_hub_empty, fake_hub_gemma, autouse hf_token_in_tmp).
# A star import, because pytest_plugins is only allowed in the top-level conftest.
from tests.fakehub.fixtures import *  # noqa: F403
