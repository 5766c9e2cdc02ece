"""fairseq's BPE interface over the task's GPT-2 encoder (so fairseq-generate prints plain text)."""

from typing import List


class UnivalBPE:
    """``encode("a dog") -> "64 3290"`` (GPT-2 ids as the dictionary's symbols) and back."""

    def __init__(self, encoder):
        self.encoder = encoder

    def encode(self, x: str) -> str:
        return " ".join(str(i) for i in self.encoder.encode(x))

    def decode(self, x: str) -> str:
        pieces: List = [int(tok) if tok.isdigit() else tok for tok in x.split()]
        return self.encoder.decode(pieces)

    def is_beginning_of_word(self, x: str) -> bool:
        return self.decode(x).startswith(" ")
