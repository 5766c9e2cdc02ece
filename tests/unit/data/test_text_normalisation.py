"""pre_caption / pre_question / punctuation stripping against hand-written expectations."""

from unival.data.text import caption_words, pre_caption, pre_question, strip_punctuation


def test_pre_caption_rules():
    text = ",.A Man-in/a  <PERSON>   Hat!\n"
    # lower, strip leading ",.", '-' and '/' -> ' ', <person> -> person, collapse, strip
    assert pre_caption(text) == "a man in a person hat!"
    assert pre_caption("?!#Hello   world", 1) == "hello"
    assert pre_caption("one two three", 2) == "one two"
    assert pre_caption("") == ""


def test_leading_space_is_stripped_before_punctuation_rule():
    # lstrip of the punctuation set happens before whitespace is collapsed/stripped
    assert pre_caption(" ,x") == ",x"


def test_pre_question_keeps_person_tag():
    assert pre_question("What is <person> DOING?") == "what is <person> doing?"
    assert pre_question("is it a t-shirt / dress?", 4) == "is it a t"


def test_caption_punctuation():
    assert strip_punctuation("a dog's ball, (red)!") == "a dogs ball red"
    assert caption_words(" a  big, red\tcircle. ", 2) == "a big"
    assert caption_words("a big red circle") == "a big red circle"
