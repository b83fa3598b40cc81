"""One module of exercise checks per chapter, `chNN.py`; nothing is imported here.

`dropout_lib.grading.EXERCISES` imports chapter N's module the first time one of its exercises
is looked up, and `dropout_lib.grading.load_all()` imports them all.
"""
