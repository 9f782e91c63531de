"""benchmarks/constrained_sampling.py times what a generation does: every case's target is what the sampler takes."""

from server.tokenizer import TokenTexts
from tests.conftest import load_benchmark
from tests.sketch.tiny_llm import byte_tokenizer


def test_every_case_is_timed_on_its_target_through_the_constrained_sampler():
    bench = load_benchmark("constrained_sampling")
    tokenizer = byte_tokenizer()
    texts = TokenTexts(tokenizer, skip_special_tokens=True)
    for name, (fields, make_prefix, target) in bench.CASES.items():
        # (time_case asserts each sampled token is the target's: the recognizer accepts the whole target)
        result = bench.time_case(fields, make_prefix, target, tokenizer, texts, len(tokenizer), rounds=1)
        assert result["tokens"] == len(target.encode()) and result["us_per_token"] > 0, name
