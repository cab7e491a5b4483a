"""The built-in models' world, kept out of the runtime package: procedural scenes and
motions, the caption grammar and tokenizer, the adherence scorers, the evaluation, the
training recipe. The training and evaluation scripts and the tests import it; ``cinedraft``
never does (``tests/test_architecture.py``)."""
