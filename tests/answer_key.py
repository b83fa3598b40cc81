"""The quizzes' answers, for the tests only (the library stores them as salted digests).

A new quiz needs its answer here: `tests/test_checks_generic.py` checks that every quiz has
one, that it passes in every format, and that no hint gives it away.
"""

QUIZ_ANSWERS = {
    "1.4": "b",
    "2.5": "b",
    "3.3": "c",
    "4.4": "b",
    "5.4": "b",
    "6.2": "b",
    "7.2": 320,
    "8.4": -1.2361598485763778,
}
