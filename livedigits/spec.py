"""The digit model's contract, defined once: a 28x28x1 image in, 11 class scores out.

Classes 0-9 are the digits; class 10 is "not a digit" (ruled lines, smudges, letters, ...).
"""

MNIST_SIZE = 28  # the side of a crop, as in MNIST
INPUT_SHAPE = (MNIST_SIZE, MNIST_SIZE, 1)
NUM_CLASSES = 11
NOT_A_DIGIT = 10
