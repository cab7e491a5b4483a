from transformers import CLIPTokenizer

from cinedraft_training.scenes import grammar_words
from cinedraft_training.tokenizer import build_tokenizer, learn_merges


def test_every_grammar_word_is_one_token_and_other_text_still_tokenizes(tmp_path):
    tok = build_tokenizer(grammar_words())
    for word in grammar_words():
        assert len(tok(word, add_special_tokens=False).input_ids) == 1, word
    ids = tok("zebra 42 ünïcode", add_special_tokens=False).input_ids
    assert ids and tok.unk_token_id not in ids
    tok.save_pretrained(tmp_path)
    again = CLIPTokenizer.from_pretrained(tmp_path)
    assert again("a red bottle").input_ids == tok("a red bottle").input_ids


def test_learn_merges_joins_each_word():
    merges = learn_merges(["red", "reed"])
    assert ("re", "d</w>") in merges or ("r", "ed</w>") in merges
